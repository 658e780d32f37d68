import BERGCore
import BERGRegistry
import Foundation

/// Everything a builder gets: the manifest, the validated subject, selection and options, the
/// resolved device, and the local files of the manifest's artifacts (name → file).
public struct EncoderContext: Sendable {
    public var manifest: Manifest
    public var subject: Subject
    public var selection: Selection
    /// Every option the manifest declares, with its default where the caller gave none.
    public var options: EncodingOptions
    public var device: Device
    public var files: [String: URL]

    public init(manifest: Manifest, subject: Subject, selection: Selection, options: EncodingOptions = [:],
                device: Device, files: [String: URL]) {
        self.manifest = manifest
        self.subject = subject
        self.selection = selection
        self.options = options
        self.device = device
        self.files = files
    }

    /// The selection with the options added by name, which is what a manifest's artifact
    /// `only`/`except` conditions read (img2fmri's `group` files: only with `space=mni`).
    public var artifactSelection: Selection {
        var combined = selection
        for (name, value) in options.values where combined[name] == nil { combined[name] = value.description }
        return combined
    }

    /// The local file of a named artifact, or an error naming it.
    public func file(_ name: String) throws -> URL {
        guard let url = files[name] else {
            throw BERGError.artifactMissing(name: name, message: "\(manifest.modelID) needs it, and it was not fetched; its manifest lists: \(manifest.artifacts.map(\.name).joined(separator: ", "))")
        }
        return url
    }
}

/// One encoder kind: how its manifest settings are decoded, how a model is built, and how
/// its metadata is made without loading weights.
public struct EncoderKind: Sendable {
    public let name: String
    /// The artifacts its metadata function reads (`BERG.getModelMetadata` fetches only these),
    /// or nil for all of them.
    public let metadataArtifacts: [String]?
    private let decode: @Sendable (Manifest) throws -> any Sendable
    private let builder: @Sendable (EncoderContext, any Sendable) throws -> any EncodingModel
    private let metadataMaker: @Sendable (EncoderContext, any Sendable) throws -> Metadata
    private let selectionCheck: (@Sendable (EncoderContext, any Sendable) throws -> Void)?

    /// - Parameters:
    ///   - requiresPreprocessing: the kind reads the manifest's `encoder.preprocessing`
    ///     (checked with the settings).
    ///   - manifestCheck: checks of the settings against the rest of the manifest (its
    ///     outputs, selection keys, placement), run with the settings' own.
    ///   - selectionCheck: checks of a caller's selection values beyond the manifest's
    ///     valid values (free-text keys such as mask files), run before any file is fetched.
    ///   - metadataArtifacts: the artifacts `metadata` reads, so that metadata comes without
    ///     fetching weights; nil (the default) fetches every artifact, as a kind without a
    ///     metadata function builds the model for it.
    public init<Settings: EncoderSettingsType>(
        name: String, settings: Settings.Type, requiresPreprocessing: Bool = false,
        manifestCheck: (@Sendable (Manifest, Settings) throws -> Void)? = nil,
        selectionCheck: (@Sendable (EncoderContext, Settings) throws -> Void)? = nil,
        builder: @escaping @Sendable (EncoderContext, Settings) throws -> any EncodingModel,
        metadata: (@Sendable (EncoderContext, Settings) throws -> Metadata)? = nil,
        metadataArtifacts: [String]? = nil
    ) {
        self.name = name
        self.metadataArtifacts = metadata == nil ? nil : metadataArtifacts
        decode = { manifest in
            if requiresPreprocessing { _ = try EncoderKind.preprocessing(of: manifest) }
            let settings = try SettingsDecoder.decode(Settings.self, from: manifest)
            try manifestCheck?(manifest, settings)
            return settings
        }
        // The casts cannot fail: `decode` made the value.
        if let selectionCheck {
            self.selectionCheck = { context, settings in try selectionCheck(context, settings as! Settings) }
        } else {
            self.selectionCheck = nil
        }
        self.builder = { context, settings in try builder(context, settings as! Settings) }
        metadataMaker = { context, settings in
            if let metadata { return try metadata(context, settings as! Settings) }
            return try builder(context, settings as! Settings).metadata
        }
    }

    /// The manifest's preprocessing, or an error for kinds that need one.
    public static func preprocessing(of manifest: Manifest) throws -> Preprocessing {
        guard let preprocessing = manifest.encoder.preprocessing else {
            throw BERGError.invalidManifest(file: manifest.modelID, keyPath: "encoder.preprocessing",
                                            message: "the \(manifest.encoder.kind) kind needs preprocessing (square_crop, resize, size or shorter_side, crop, mean, std)")
        }
        return preprocessing
    }

    /// Decodes and checks the manifest's settings (`berg registry check`).
    public func checkSettings(_ manifest: Manifest) throws {
        _ = try decode(manifest)
    }

    /// Checks a resolved selection before any file is fetched (kinds without a check accept
    /// what the manifest's valid values allowed).
    public func checkSelection(_ context: EncoderContext) throws {
        guard let selectionCheck else { return }
        try selectionCheck(context, decode(context.manifest))
    }

    public func build(_ context: EncoderContext) throws -> any EncodingModel {
        try builder(context, decode(context.manifest))
    }

    /// The model's metadata; kinds that registered no metadata function build the model for it.
    public func metadata(_ context: EncoderContext) throws -> Metadata {
        try metadataMaker(context, decode(context.manifest))
    }
}

/// The table from a manifest's `encoder.kind` to the kind that builds it, as mlx-swift-lm's
/// `ModelTypeRegistry`. `shared` starts with the built-in kinds; a separate package adds its own
/// with one `register` call, and its manifests then run through `BERG.getEncodingModel`.
///
/// ```swift
/// EncoderKindRegistry.shared.register(kind: "my-kind", settings: MySettings.self) { context, settings in
///     try MyEncoder(context: context, settings: settings)
/// }
/// ```
public final class EncoderKindRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var kinds: [String: EncoderKind]

    public static let shared = EncoderKindRegistry(builtIn)

    /// The kinds this build has: `css_prf`, `feature-linear`, `fwrf`, `img2fmri`.
    public static var builtIn: [EncoderKind] {
        [CSSPRFEncoder.kind, FeatureLinearEncoder.kind, FWRFEncoder.kind, Img2fmriEncoder.kind]
    }

    public init(_ kinds: [EncoderKind] = []) {
        self.kinds = Dictionary(kinds.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// Adds a kind, or replaces the kind of that name.
    public func register(_ kind: EncoderKind) {
        lock.lock(); defer { lock.unlock() }
        kinds[kind.name] = kind
    }

    /// Adds a kind, or replaces the kind of that name: its settings type (decoded from
    /// `encoder.settings`, strictly), its builder, and optionally how to make its metadata
    /// without loading weights (by default the model is built and asked) and which artifacts
    /// that reads.
    public func register<Settings: EncoderSettingsType>(
        kind: String, settings: Settings.Type,
        requiresPreprocessing: Bool = false,
        builder: @escaping @Sendable (EncoderContext, Settings) throws -> any EncodingModel,
        metadata: (@Sendable (EncoderContext, Settings) throws -> Metadata)? = nil,
        metadataArtifacts: [String]? = nil
    ) {
        register(EncoderKind(name: kind, settings: settings, requiresPreprocessing: requiresPreprocessing,
                             builder: builder, metadata: metadata, metadataArtifacts: metadataArtifacts))
    }

    /// The kind names, sorted.
    public var names: [String] {
        lock.lock(); defer { lock.unlock() }
        return kinds.keys.sorted()
    }

    /// The kind that builds a manifest, or an error listing the kinds this registry has.
    public func kind(for manifest: Manifest) throws -> EncoderKind {
        lock.lock(); defer { lock.unlock() }
        guard let kind = kinds[manifest.encoder.kind] else {
            throw BERGError.invalidManifest(
                file: manifest.modelID, keyPath: "encoder.kind",
                message: "unknown encoder kind '\(manifest.encoder.kind)'; known kinds: \(kinds.keys.sorted().joined(separator: ", "))")
        }
        return kind
    }
}
