import BERGCompute
import BERGCore
import BERGModels
import BERGRegistry
import BERGStore
import Foundation

/// The public facade: find a model in the registry, check the caller's parameters against
/// its manifest, get its files from the artifact store, and build and run its encoder. The
/// command line makes these same calls.
///
/// ```swift
/// let berg = try BERG()                                  // or BERG(bergDir: "~/berg")
/// let model = try berg.getEncodingModel("fmri-kay2013-css_prf", subject: 1, selection: ["roi": "V1"])
/// let result = try berg.encode(model, berg.loadStimulus("images/"))
/// let v1 = try result.response                           // float32 [images, voxels]
/// ```
public final class BERG: Sendable {
    /// The version recorded in every result.
    public static let version = "0.1.0"

    /// The built-in manifests plus the user's registry folders.
    public let registry: Registry
    /// Where an encoder's files come from.
    public let artifacts: any ArtifactResolving
    /// The encoder kinds models can be built with (`EncoderKindRegistry.shared` by default).
    public let kinds: EncoderKindRegistry

    /// The built-in registry, then `BERG_REGISTRY_PATH` (colon-separated), then `registries`,
    /// then the published indexes added with `addRegistry` (`$BERG_HOME/registries.yaml`).
    /// A registry is a folder of manifests, or a published index (`berg publish`): the URL of
    /// its `index.yaml` (https, http on a loopback address, or a local file) or a local folder
    /// that holds one. Files come from an `ArtifactStore` at `home` (default `$BERG_HOME`, else
    /// `$XDG_CACHE_HOME/berg`, else `~/.cache/berg`) with `storeOptions` (default: from the
    /// `BERG_DIR`, `BERG_OFFLINE`, `BERG_MIRROR` and `BERG_PIP_ARGS` environment variables).
    public convenience init(home: URL? = nil, registries: [URL] = [], storeOptions: StoreOptions? = nil,
                            kinds: EncoderKindRegistry = .shared) throws {
        let options = try storeOptions ?? StoreOptions(environment: ProcessInfo.processInfo.environment)
        try self.init(registries: registries,
                      artifacts: ArtifactStore(home: home ?? ArtifactStore.defaultHome(), options: options), kinds: kinds)
    }

    /// Python's `BERG(berg_dir)`: model files are read in place from an existing download of
    /// BERG's bucket (anything missing there comes from the cache or a download).
    public convenience init(bergDir: String, home: URL? = nil, registries: [URL] = []) throws {
        var options = try StoreOptions(environment: ProcessInfo.processInfo.environment)
        options.bergDir = try StoreOptions.checkedBergDir(bergDir)
        try self.init(home: home, registries: registries, storeOptions: options)
    }

    /// As above, with the resolver to ask for local files (any `ArtifactResolving`). Remote
    /// indexes and `registries.yaml` need the resolver to be an `ArtifactStore`.
    public init(registries: [URL] = [], artifacts: any ArtifactResolving, kinds: EncoderKindRegistry = .shared) throws {
        self.registry = try BERG.makeRegistry(registries, store: artifacts as? ArtifactStore)
        self.artifacts = artifacts
        self.kinds = kinds
    }

    /// A facade over a registry made elsewhere (`publish` checks a package beside the built-in models).
    init(registry: Registry, artifacts: any ArtifactResolving, kinds: EncoderKindRegistry) {
        self.registry = registry
        self.artifacts = artifacts
        self.kinds = kinds
    }

    /// `$BERG_HOME`, else `$XDG_CACHE_HOME/berg`, else `~/.cache/berg`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        ArtifactStore.defaultHome(environment: environment)
    }

    /// How many threads compute uses; file work such as decoding images uses as many.
    public static var threadCount: Int { ComputeThreads.count }

    // MARK: - The registry

    /// Model ids, sorted; with a pattern such as `fmri-*`, those it matches.
    public func listModels(_ pattern: String? = nil) throws -> [String] {
        registry.listModels(matching: pattern)
    }

    /// Modality → training datasets.
    public func modelCatalog() throws -> [String: [String]] {
        registry.catalog()
    }

    /// A model's manifest.
    public func describe(_ id: String) throws -> Manifest {
        try registry.manifest(id)
    }

    /// A model's card (Markdown), rendered from its manifest.
    public func card(_ id: String) throws -> String {
        CardRenderer.render(try registry.manifest(id))
    }

    /// Options given as `NAME=VALUE` text (the command line's `--option`), read with the types
    /// the model's manifest declares. Unknown names, bad values and repeats are errors.
    public func parseOptions(_ id: String, _ items: [String]) throws -> EncodingOptions {
        try registry.parseOptions(registry.manifest(id), items)
    }

    // MARK: - Models

    /// Checks the model id, subject, selection, options and device, gets the model's files, and
    /// builds its encoder.
    public func getEncodingModel(_ id: String, subject: Subject, selection: Selection = [:],
                                 options: EncodingOptions = [:], device: Device = .auto) throws -> any EncodingModel {
        let (context, kind) = try prepare(id, subject: subject, selection: selection, options: options, device: device)
        var withFiles = context
        withFiles.files = try artifacts.localFiles(for: context.manifest, subject: subject, selection: context.artifactSelection)
        return try kind.build(withFiles)
    }

    /// The model's metadata (voxel positions, indices, ...) without loading its weights.
    public func getModelMetadata(_ id: String, subject: Subject, selection: Selection = [:],
                                 options: EncodingOptions = [:]) throws -> Metadata {
        var (context, kind) = try prepare(id, subject: subject, selection: selection, options: options, device: .auto)
        // Ask only for the files the kind's metadata reads (never the weights, where it says),
        // so that parametric models never touch the store.
        let needed = metadataManifest(context.manifest, kind: kind)
        if !needed.artifacts.isEmpty {
            context.files = try artifacts.localFiles(for: needed, subject: subject, selection: context.artifactSelection)
        }
        var metadata = try kind.metadata(context)
        metadata.merge(BERG.runMetadata(id: id, subject: subject, selection: context.selection))
        return metadata
    }

    /// Runs a model on a stimulus, `batchSize` images at a time, and adds the run's
    /// metadata (model id, subject, selection, BERG version) to the model's.
    public func encode(_ model: any EncodingModel, _ stimulus: Stimulus, batchSize: Int = 64,
                       progress: ProgressReporter? = nil) throws -> EncodingResult {
        try encode(model, StimulusArray(stimulus), batchSize: batchSize, progress: progress)
    }

    /// Encodes several stimuli in turn (such as `loadStimuli`' runs of images of one size each)
    /// and joins their responses in order, as if they were one stimulus.
    public func encode(_ model: any EncodingModel, _ stimuli: [Stimulus], batchSize: Int = 64,
                       progress: ProgressReporter? = nil) throws -> EncodingResult {
        try encode(model, StimulusArray(stimuli), batchSize: batchSize, progress: progress)
    }

    /// Encodes every stimulus of a source and returns all the responses in memory.
    public func encode(_ model: any EncodingModel, _ source: any StimulusSource, batchSize: Int = 64,
                       progress: ProgressReporter? = nil) throws -> EncodingResult {
        let collector = ResultCollector()
        try encode(model, source, batchSize: batchSize, progress: progress, into: [collector])
        return try collector.result()
    }

    /// Encodes a source a batch at a time, decoding the next batch while the model works on
    /// this one, and hands each batch's responses to every sink in stimulus order, so that
    /// memory does not grow with the number of stimuli. Unreadable files a source skips get
    /// NaN responses and are listed in the metadata (`unreadable_stimuli`). On any failure every
    /// sink discards what it wrote.
    @discardableResult
    public func encode(_ model: any EncodingModel, _ source: any StimulusSource, batchSize: Int = 64,
                       progress: ProgressReporter? = nil, into sinks: [ResultSink]) throws -> EncodingSummary {
        do {
            let summary = try BatchEncoder(model: model, source: source, batchSize: batchSize, progress: progress, sinks: sinks).run()
            // Every output is complete before any appears.
            for sink in sinks { try sink.finish(summary) }
            for sink in sinks { try sink.commit() }
            return summary
        } catch {
            for sink in sinks { sink.discard() }
            throw error
        }
    }

    // MARK: - Internals

    func prepare(_ id: String, subject: Subject, selection: Selection, options: EncodingOptions,
                 device: Device) throws -> (context: EncoderContext, kind: EncoderKind) {
        let manifest = try registry.manifest(id)
        let resolved = try registry.resolve(manifest, subject: subject, selection: selection)
        let resolvedOptions = try registry.resolveOptions(manifest, options)
        let backend = try device.resolved()
        let kind = try kinds.kind(for: manifest)
        let context = EncoderContext(manifest: manifest, subject: subject, selection: resolved, options: resolvedOptions,
                                     device: backend, files: [:])
        try kind.checkSelection(context)
        return (context, kind)
    }

    /// The manifest with only the artifacts a kind's metadata reads, as the kind declares
    /// them (`EncoderKind.metadataArtifacts`); for a kind that declares none, those named
    /// `metadata`, else all of them.
    private func metadataManifest(_ manifest: Manifest, kind: EncoderKind) -> Manifest {
        var reduced = manifest
        if let names = kind.metadataArtifacts {
            reduced.artifacts = manifest.artifacts.filter { names.contains($0.name) }
        } else if manifest.artifacts.contains(where: { $0.name == "metadata" }) {
            reduced.artifacts = manifest.artifacts.filter { $0.name == "metadata" }
        }
        return reduced
    }

    static func runMetadata(id: String, subject: Subject, selection: Selection) -> Metadata {
        var selectionGroup = Metadata()
        for key in selection.values.keys.sorted() { selectionGroup[key] = .string(selection[key]!) }
        return Metadata([
            ("model_id", .string(id)),
            ("subject", .int(subject.number)),
            ("selection", .group(selectionGroup)),
            ("berg_version", .string(version)),
        ])
    }
}
