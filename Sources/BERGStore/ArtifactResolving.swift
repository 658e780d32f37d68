import BERGCore
import BERGRegistry
import Foundation

/// Where the facade gets an encoder's files: artifact name → local file. Encoders never
/// download; the facade asks an `ArtifactResolving` and hands the paths to the builder.
public protocol ArtifactResolving: Sendable {
    func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL]
}

/// Resolves only models that need no files (such as the built-in pRF model); any artifact
/// is reported missing. The facade's default until a downloading store is plugged in.
public struct NoArtifactResolver: ArtifactResolving {
    public init() {}

    public func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL] {
        let needed = manifest.artifacts.filter { $0.applies(to: selection) }
        if let first = needed.first {
            throw BERGError.artifactMissing(
                name: first.name,
                message: "\(manifest.modelID) needs \(needed.count) file(s), and this resolver gives none; use an ArtifactStore")
        }
        return [:]
    }
}
