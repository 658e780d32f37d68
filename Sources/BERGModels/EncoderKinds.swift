import BERGCore
import BERGRegistry
import Foundation

/// Everything a builder gets: the manifest, the validated subject and selection, the resolved
/// device, and the local files of the manifest's artifacts (name → file).
public struct EncoderContext: Sendable {
    public var manifest: Manifest
    public var subject: Subject
    public var selection: Selection
    public var device: Device
    public var files: [String: URL]

    public init(manifest: Manifest, subject: Subject, selection: Selection, device: Device, files: [String: URL]) {
        self.manifest = manifest
        self.subject = subject
        self.selection = selection
        self.device = device
        self.files = files
    }

    /// The local file of a named artifact, or an error naming it.
    public func file(_ name: String) throws -> URL {
        guard let url = files[name] else {
            throw BERGError.artifactMissing(name: name, message: "\(manifest.modelID) needs it; run `berg get-model \(manifest.modelID)`")
        }
        return url
    }
}

/// How one encoder kind is built, and how its metadata is made without loading weights.
public struct EncoderKind: Sendable {
    public let build: @Sendable (EncoderContext) throws -> any EncodingModel
    public let metadata: @Sendable (EncoderContext) throws -> Metadata

    public init(build: @escaping @Sendable (EncoderContext) throws -> any EncodingModel,
                metadata: @escaping @Sendable (EncoderContext) throws -> Metadata) {
        self.build = build
        self.metadata = metadata
    }
}

/// The table from a manifest's `encoder.kind` to its builder. Adding a kind is one line here
/// plus one file in this module.
public enum EncoderKinds {
    public static let all: [String: EncoderKind] = [
        "css_prf": CSSPRFEncoder.kind,
        "img2fmri": Img2fmriEncoder.kind,
        "fwrf": FWRFEncoder.kind,
    ]

    /// The builder for a manifest's kind, or an error listing the kinds this build knows.
    public static func kind(for manifest: Manifest) throws -> EncoderKind {
        guard let kind = all[manifest.encoder.kind] else {
            throw BERGError.invalidManifest(
                file: manifest.modelID, keyPath: "encoder.kind",
                message: "unknown encoder kind '\(manifest.encoder.kind)'; this build knows: \(all.keys.sorted().joined(separator: ", "))")
        }
        return kind
    }
}
