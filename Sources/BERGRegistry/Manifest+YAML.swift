import BERGCore
import Foundation
import Yams

extension Manifest {
    /// The manifest as YAML text, in the schema `ManifestLoader` reads (a model package's
    /// `manifest.yaml`, written by `berg fit`).
    public func yamlText() throws -> String {
        do {
            return try YAMLEncoder().encode(self)
        } catch {
            throw BERGError.invalidManifest(file: modelID, keyPath: "", message: "cannot encode as YAML: \(error)")
        }
    }
}
