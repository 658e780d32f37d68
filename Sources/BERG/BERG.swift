@_exported import BERGCore
@_exported import BERGFormats
@_exported import BERGRegistry
import BERGCompute
import BERGModels
@_exported import BERGStore
import Foundation

/// The public facade: find a model in the registry, check the caller's parameters against
/// its manifest, get its files from the artifact store, and build and run its encoder.
///
/// ```swift
/// let berg = try BERG()
/// let model = try berg.getEncodingModel("fmri-kay2013-css_prf", subject: 1, selection: ["roi": "V1"])
/// let result = try berg.encode(model, stimulus)
/// ```
public final class BERG: Sendable {
    /// The version recorded in every result.
    public static let version = "0.1.0"

    /// Where downloaded artifacts are kept.
    public let home: URL
    /// The built-in manifests plus the user's registry folders.
    public let registry: Registry
    /// Where an encoder's files come from.
    public let artifacts: any ArtifactResolving

    /// The built-in registry, then `BERG_REGISTRY_PATH` (colon-separated), then `registries`;
    /// `home` defaults to `$BERG_HOME`, else `$XDG_CACHE_HOME/berg`, else `~/.cache/berg`.
    /// Files come from an `ArtifactStore` at `home` set up from the `BERG_*` environment
    /// variables (`BERG_DIR`, `BERG_OFFLINE`, `BERG_MIRROR`).
    public convenience init(home: URL? = nil, registries: [URL] = []) throws {
        try self.init(home: home, registries: registries,
                      storeOptions: StoreOptions(environment: ProcessInfo.processInfo.environment))
    }

    /// As above, with the artifact store to ask for local files.
    public init(home: URL? = nil, registries: [URL] = [], artifacts: any ArtifactResolving) throws {
        self.home = home ?? BERG.defaultHome()
        self.registry = try Registry.standard(adding: registries)
        self.artifacts = artifacts
    }

    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["BERG_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            return URL(fileURLWithPath: cache).appendingPathComponent("berg")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/berg")
    }

    /// Sets how many threads compute uses (nil: `BERG_NUM_THREADS`, else all cores).
    public static func configureThreads(_ count: Int?) {
        ComputeThreads.configure(count)
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

    // MARK: - Models

    /// Checks the model id, subject, selection and device, gets the model's files, and builds
    /// its encoder.
    public func getEncodingModel(_ id: String, subject: Subject, selection: Selection = [:],
                                 device: Device = .auto) throws -> any EncodingModel {
        let context = try prepare(id, subject: subject, selection: selection, device: device)
        var withFiles = context.context
        withFiles.files = try artifacts.localFiles(for: context.context.manifest, subject: subject,
                                                   selection: context.context.selection)
        return try context.kind.build(withFiles)
    }

    /// The model's metadata (voxel positions, indices, ...) without loading its weights.
    public func getModelMetadata(_ id: String, subject: Subject, selection: Selection = [:]) throws -> Metadata {
        let prepared = try prepare(id, subject: subject, selection: selection, device: .auto)
        var context = prepared.context
        // Metadata may live in a small artifact of its own; ask for files only when the
        // manifest has any, so that parametric models never touch the store.
        if !context.manifest.artifacts.isEmpty {
            context.files = try artifacts.localFiles(for: context.manifest, subject: subject, selection: context.selection)
        }
        var metadata = try prepared.kind.metadata(context)
        metadata.merge(BERG.runMetadata(id: id, subject: subject, selection: context.selection))
        return metadata
    }

    /// Runs a model on a stimulus, `batchSize` images at a time, and adds the run's
    /// metadata (model id, subject, selection, BERG version) to the model's.
    public func encode(_ model: any EncodingModel, _ stimulus: Stimulus, batchSize: Int = 64,
                       progress: ProgressReporter? = nil) throws -> EncodingResult {
        try encode(model, [stimulus], batchSize: batchSize, progress: progress)
    }

    /// Encodes several stimuli in turn (such as `StimulusLoader.loadRuns`' runs of images of one
    /// size each) and joins their responses in order, as if they were one stimulus.
    public func encode(_ model: any EncodingModel, _ stimuli: [Stimulus], batchSize: Int = 64,
                       progress: ProgressReporter? = nil) throws -> EncodingResult {
        guard batchSize > 0 else { throw BERGError.invalidInput("batch size must be positive, got \(batchSize)") }
        guard !stimuli.isEmpty else { throw BERGError.invalidInput("There are no images to encode") }
        let total = stimuli.reduce(0) { $0 + $1.count }
        var parts: [EncodingResult] = []
        var offset = 0
        for stimulus in stimuli {
            var done = 0
            while done < stimulus.count {
                let range = done ..< min(done + batchSize, stimulus.count)
                let batchProgress = progress.map { BatchProgress(inner: $0, offset: offset + done, total: total) }
                parts.append(try model.encode(stimulus.batch(range), progress: batchProgress))
                done = range.upperBound
            }
            offset += stimulus.count
        }
        var result = try BERG.concatenate(parts)
        result.metadata.merge(BERG.runMetadata(id: model.modelID, subject: model.subject, selection: model.selection))
        let notes = stimuli.flatMap(\.notes)
        if !notes.isEmpty { result.metadata["stimulus_notes"] = .strings(notes) }
        return result
    }

    // MARK: - Internals

    private func prepare(_ id: String, subject: Subject, selection: Selection,
                         device: Device) throws -> (context: EncoderContext, kind: EncoderKind) {
        let manifest = try registry.manifest(id)
        let resolved = try registry.resolve(manifest, subject: subject, selection: selection)
        let backend = try device.resolved()
        let kind = try EncoderKinds.kind(for: manifest)
        return (EncoderContext(manifest: manifest, subject: subject, selection: resolved, device: backend, files: [:]), kind)
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

    /// Joins batch results along the first axis.
    static func concatenate(_ parts: [EncodingResult]) throws -> EncodingResult {
        guard var first = parts.first else { throw BERGError.invalidInput("nothing to encode") }
        guard parts.count > 1 else { return first }
        for name in first.responses.keys {
            let tensors = parts.compactMap { $0.responses[name] }
            guard tensors.count == parts.count, let shape = tensors.first?.shape, !shape.isEmpty else {
                throw BERGError.invalidInput("batches of \(name) do not line up")
            }
            var floats: [Float] = []
            for t in tensors {
                guard Array(t.shape.dropFirst()) == Array(shape.dropFirst()) else {
                    throw BERGError.shapeMismatch(what: "batch of \(name)", expected: shape, actual: t.shape)
                }
                floats += t.floats
            }
            first.responses[name] = try Tensor(shape: [tensors.reduce(0) { $0 + $1.shape[0] }] + shape.dropFirst(), floats: floats)
        }
        return first
    }
}

/// Turns a batch's progress into progress over the whole stimulus.
struct BatchProgress: ProgressReporter {
    let inner: any ProgressReporter
    let offset: Int
    let total: Int
    func report(completed: Int, total _: Int, message: String) {
        inner.report(completed: offset + completed, total: total, message: message)
    }
}
