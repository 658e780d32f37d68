import BERGCore
import BERGRegistry
import Foundation

extension ArtifactStore {
    /// The local copy of one artifact outside any model's manifest (torchvision's ImageNet
    /// weights for `berg features`), found and fetched as a manifest's are: the cache, else a
    /// download verified against its SHA-256 or torchvision's hash prefix. `owner` names it in
    /// messages.
    public func localFile(for artifact: Artifact, owner: String) throws -> URL {
        let planned = try plan(artifact, modelID: owner, folder: nil, subject: Subject(1), selection: Selection())
        guard let url = try fetch(planned).first else {
            throw BERGError.artifactMissing(name: artifact.name, message: "nothing to fetch for \(owner)")
        }
        return url
    }

    /// The SHA-256 of a local file, hex.
    public static func sha256(of url: URL) throws -> String {
        try FileDigest.of(url).sha256
    }
}
