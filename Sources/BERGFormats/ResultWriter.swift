import BERGCore
import Foundation

/// Writes an `EncodingResult` to the file the user named, by its extension:
///
/// - `.npy`: the single response array as float32 ([N, V] as the model gives it). A result with
///   several named outputs (such as `lh` and `rh`) cannot go in one `.npy`; that is an error
///   that says to use `.h5`.
/// - `.h5` / `.hdf5`:
///   ```
///   /                      attributes: the `attributes` given (model_id, subject, selection, berg_version, ...)
///   ├── responses          float32 [N, V], when the only output is named "responses"
///   ├── responses/<name>   one float32 dataset per named output otherwise (lh, rh, ...)
///   ├── stimulus_names     UTF-8 strings [N]
///   └── metadata/          the result's metadata (only with `includeMetadata`)
///   ```
///   Large datasets are chunked and gzip-compressed.
///
/// Either way the file is written under a temporary name in the same folder and renamed into
/// place, so a failed run never leaves a half-written output.
public enum ResultWriter {
    public static func write(_ result: EncodingResult, to path: String, stimulusNames: [String],
                             attributes: [String: String], includeMetadata: Bool) throws {
        guard !result.responses.isEmpty else { throw BERGError.invalidInput("The encoding result has no responses to write") }
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy":
            try writeNPY(result, to: path)
        case "h5", "hdf5":
            try writeHDF5(result, to: path, stimulusNames: stimulusNames, attributes: attributes,
                          includeMetadata: includeMetadata)
        default:
            throw BERGError.invalidInput("Cannot tell the output format of '\(path)': name it .npy (responses only) or .h5 (responses, stimulus names and metadata)")
        }
    }

    static func writeNPY(_ result: EncodingResult, to path: String) throws {
        guard result.responses.count == 1, let tensor = result.responses.values.first else {
            let names = result.responses.keys.sorted().joined(separator: ", ")
            throw BERGError.invalidInput("The model gives several outputs (\(names)), which one .npy file cannot hold apart; write an .h5 file instead")
        }
        try checkWritableFolder(of: path)
        try NPYFile.write(tensor.asFloat32, to: path)
    }

    static func writeHDF5(_ result: EncodingResult, to path: String, stimulusNames: [String],
                          attributes: [String: String], includeMetadata: Bool) throws {
        try writeHDF5File(to: path) { file in
            if result.responses.count == 1, let only = result.responses["responses"] {
                try file.write(only.asFloat32, at: "responses", compressed: true)
            } else {
                for (name, tensor) in result.responses.sorted(by: { $0.key < $1.key }) {
                    try file.write(tensor.asFloat32, at: "responses/\(name)", compressed: true)
                }
            }
            if !stimulusNames.isEmpty { try file.writeStrings(stimulusNames, at: "stimulus_names") }
            if includeMetadata { try file.writeMetadata(result.metadata, at: "metadata") }
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
                try file.setAttribute(key, .string(value))
            }
        }
    }

    /// Creates an HDF5 file at a temporary name beside `path`, lets `body` fill it, and renames
    /// it into place; on any failure the temporary file is removed and nothing appears at `path`.
    public static func writeHDF5File(to path: String, _ body: (HDF5File) throws -> Void) throws {
        let folder = try checkWritableFolder(of: path)
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let temp = folder.appendingPathComponent(".\(fileName).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        do {
            let file = try HDF5File(path: temp, mode: .create)
            do { try body(file) } catch { try? file.close(); throw error }
            try file.close()
            guard rename(temp, path) == 0 else {
                throw BERGError.writeFailed(path: path, message: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            if case BERGError.writeFailed(_, let message) = error { throw BERGError.writeFailed(path: path, message: message) }
            throw error
        }
    }

    /// The output's folder, after checking it exists and can be written.
    @discardableResult
    static func checkWritableFolder(of path: String) throws -> URL {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder.path) does not exist; create it first")
        }
        guard FileManager.default.isWritableFile(atPath: folder.path) else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder.path) is not writable")
        }
        var isExistingDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isExistingDirectory), isExistingDirectory.boolValue {
            throw BERGError.writeFailed(path: path, message: "it is a folder; give a file name ending in .npy or .h5")
        }
        return folder
    }
}
