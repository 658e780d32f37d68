import BERGCore
import BERGRegistry
import Foundation

public protocol ArtifactResolving: Sendable { func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL] }
