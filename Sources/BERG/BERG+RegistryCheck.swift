import BERGModels
import Foundation

extension BERG {
    /// Validates a folder of manifests for `berg registry check`: each must pass the strict
    /// schema and consistency checks, name an encoder kind this build has, and, for models
    /// that need no files, build its metadata for every subject and selection it lists (which
    /// checks the encoder's own settings).
    public static func checkRegistry(_ directory: URL) throws -> [Manifest] {
        let manifests = try Registry.loadDirectory(directory).map(\.0)
        for manifest in manifests {
            let kind = try EncoderKinds.kind(for: manifest)
            guard manifest.artifacts.isEmpty else { continue }
            for subject in manifest.parameters.subject.validValues {
                guard case .int(let number) = subject else { continue }
                for selection in selections(of: manifest) {
                    _ = try kind.metadata(EncoderContext(manifest: manifest, subject: Subject(number),
                                                         selection: selection, device: .cpu, files: [:]))
                }
            }
        }
        return manifests
    }

    /// Every combination of the selection's valid values.
    static func selections(of manifest: Manifest) -> [Selection] {
        var result: [Selection] = [[:]]
        let spec = manifest.parameters.selection
        for key in spec.orderedKeys {
            guard let values = spec.properties[key]?.validStrings else { continue }
            result = result.flatMap { partial in
                values.map { value in var s = partial; s[key] = value; return s }
            }
        }
        return result
    }
}
