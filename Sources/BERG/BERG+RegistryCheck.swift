import BERGCore
import BERGModels
import BERGRegistry
import Foundation

extension BERG {
    /// Validates manifests for `berg registry check`: those in `directory`, or the built-in
    /// ones when nil. Each must pass the strict schema and consistency checks, name an encoder
    /// kind this facade has, and decode that kind's typed settings; models that need no files
    /// also build their metadata for every subject and selection they list.
    public func checkRegistry(_ directory: URL? = nil) throws -> [Manifest] {
        let manifests = try directory.map { try Registry.loadDirectory($0).map(\.0) } ?? Registry.builtinManifests()
        for manifest in manifests { try checkManifest(manifest) }
        return manifests
    }

    /// The checks `checkRegistry` makes on one manifest beyond loading it (which checks the
    /// schema): its kind, the kind's settings, and metadata where no files are needed.
    public func checkManifest(_ manifest: Manifest) throws {
        let kind = try kinds.kind(for: manifest)
        try kind.checkSettings(manifest)
        guard manifest.artifacts.isEmpty else { return }
        let options = try registry.resolveOptions(manifest, [:])
        for subject in manifest.subjects {
            for selection in manifest.allSelections {
                _ = try kind.metadata(EncoderContext(manifest: manifest, subject: subject, selection: selection,
                                                     options: options, device: .cpu, files: [:]))
            }
        }
    }
}
