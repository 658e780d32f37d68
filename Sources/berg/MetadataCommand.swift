import ArgumentParser
import BERG
import Foundation

struct MetadataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata", abstract: "Show a model's metadata (voxel positions, indices, ...) without loading its weights.")

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Write the metadata to a .json or .h5 file.") var output: String?

    func validate() throws {
        if json && output != nil { throw ValidationError("choose one of --json and --output") }
        if let output, !["json", "h5", "hdf5"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) {
            throw ValidationError("--output must end in .json or .h5, got '\(output)'")
        }
    }

    func run() throws {
        let berg = try registry.makeBERG()
        let metadata = try berg.getModelMetadata(model.modelID, subject: Subject(model.subject), selection: model.selection)
        if json {
            writeStdout(try MetadataJSON.string(metadata) + "\n")
        } else if let output {
            if URL(fileURLWithPath: output).pathExtension.lowercased() == "json" {
                try AtomicFile.write(Data((try MetadataJSON.string(metadata) + "\n").utf8), to: output)
            } else {
                try MetadataJSON.writeHDF5(metadata, to: output)
            }
            FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
        } else {
            writeStdout(MetadataJSON.summary(metadata))
        }
    }
}

/// Metadata as JSON (arrays as {dtype, shape, values}), as HDF5, and as a short summary.
enum MetadataJSON {
    static func object(_ metadata: Metadata) -> [String: Any] {
        var object: [String: Any] = [:]
        for (key, value) in metadata.entries { object[key] = json(value) }
        return object
    }

    static func json(_ value: MetadataValue) -> Any {
        switch value {
        case .tensor(let t):
            let values: [Any] = t.dtype == .float32 || t.dtype == .float64 ? t.doubles.map { Double(Float($0)) } : t.int64s.map { Int($0) }
            return ["dtype": t.dtype.rawValue, "shape": t.shape, "values": values]
        case .string(let s): return s
        case .int(let i): return i
        case .double(let d): return d
        case .bool(let b): return b
        case .strings(let s): return s
        case .group(let g): return object(g)
        case .none: return NSNull()
        }
    }

    static func string(_ metadata: Metadata) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object(metadata), options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func writeHDF5(_ metadata: Metadata, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
        do {
            let file = try HDF5File(path: temp, mode: .create)
            try file.writeMetadata(metadata, at: "metadata")
            try file.close()
            guard rename(temp, path) == 0 else { throw BERGError.writeFailed(path: path, message: String(cString: strerror(errno))) }
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
    }

    static func summary(_ metadata: Metadata, indent: String = "") -> String {
        var text = ""
        for (key, value) in metadata.entries {
            switch value {
            case .tensor(let t):
                let head = t.doubles.prefix(5).map { String(format: "%.4g", $0) }.joined(separator: ", ")
                text += "\(indent)\(key): \(t.dtype.rawValue) \(t.shape) [\(head)\(t.count > 5 ? ", ..." : "")]\n"
            case .group(let g):
                text += "\(indent)\(key):\n" + summary(g, indent: indent + "  ")
            case .strings(let s):
                text += "\(indent)\(key): \(s.count) strings [\(s.prefix(5).joined(separator: ", "))\(s.count > 5 ? ", ..." : "")]\n"
            case .string(let s): text += "\(indent)\(key): \(s)\n"
            case .int(let i): text += "\(indent)\(key): \(i)\n"
            case .double(let d): text += "\(indent)\(key): \(d)\n"
            case .bool(let b): text += "\(indent)\(key): \(b)\n"
            case .none: text += "\(indent)\(key): none\n"
            }
        }
        return text
    }
}
