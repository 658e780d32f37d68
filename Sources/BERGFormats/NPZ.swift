import BERGCore
import Foundation

/// NumPy's `.npz`: a zip of `.npy` files, stored (`np.savez`) or deflated (`np.savez_compressed`).
public enum NPZFile {
    /// Every numeric array, by name (the entry name without `.npy`).
    public static func read(_ path: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, value) in try readValues(path) {
            guard case .tensor(let t) = value else {
                throw BERGError.unexpectedContent(path: path, message: "array '\(name)' holds \(value.kindName), not numbers")
            }
            out[name] = t
        }
        return out
    }

    /// Every array as a value: numeric arrays as tensors, object arrays through the pickle VM.
    public static func readValues(_ path: String, limits: PickleLimits = .default) throws -> [(name: String, value: PickleValue)] {
        let zip = try ZipArchive(path: path)
        return try zip.allContents().map { entry in
            let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            return (name, try NPYFile.decodeObject(entry.data, path: "\(path) [\(entry.name)]", limits: limits))
        }
    }
}
