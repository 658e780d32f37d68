import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// Reading inputs and writing outputs the way the command line does, for library callers.
extension BERG {
    /// The images at `path` as runs of same-size images, in input order: one JPEG or PNG, a
    /// folder of them (sorted by name), a text file listing image paths, or a uint8 `.npy`
    /// [N, 3, H, W] or [N, H, W, 3]. Images are decoded on `threads` threads (default: all).
    public func loadStimuli(_ path: String, threads: Int? = nil) throws -> [Stimulus] {
        try StimulusLoader.loadRuns(path, threads: threads ?? BERG.threadCount)
    }

    /// The images at `path` as one stimulus; they must all have one size.
    public func loadStimulus(_ path: String, threads: Int? = nil) throws -> Stimulus {
        try StimulusLoader.load(path, threads: threads ?? BERG.threadCount)
    }

    /// Writes a result as `berg encode --output` does, by the file's extension:
    /// - `.npy`: the single response array, float32 (several outputs need `.h5`);
    /// - `.h5`: `responses` (or `responses/<name>` per output), `stimulus_names`, root
    ///   attributes (model id, subject, selection, BERG version, and `attributes`), and the
    ///   metadata under `metadata/` with `includeMetadata`.
    /// The file appears whole or not at all.
    public func write(_ result: EncodingResult, to path: String, includeMetadata: Bool = false,
                      attributes: [String: String] = [:]) throws {
        try ResultWriter.write(result, to: path, stimulusNames: result.stimulusNames, attributes: attributes.mapValues { .string($0) },
                               includeMetadata: includeMetadata)
    }

    /// Writes metadata as JSON (arrays as {dtype, shape, values}) or HDF5 (a `metadata` group),
    /// by the extension (`.json`, `.h5`).
    public func writeMetadata(_ metadata: Metadata, to path: String) throws {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "json": try AtomicFile.write(Data((try MetadataExport.json(metadata) + "\n").utf8), to: path)
        case "h5", "hdf5": try MetadataExport.writeHDF5(metadata, to: path)
        default:
            throw BERGError.invalidArgument(name: "metadata output", value: path, message: "name it .json or .h5")
        }
    }

    /// Metadata as pretty-printed JSON, or as a short indented summary.
    public static func metadataJSON(_ metadata: Metadata) throws -> String { try MetadataExport.json(metadata) }
    public static func metadataSummary(_ metadata: Metadata) -> String { MetadataExport.summary(metadata) }

    /// Writes every model's card as `<id>.md` into `folder` (created when missing); returns the paths.
    @discardableResult
    public func writeCards(to folder: String) throws -> [String] {
        try createFolder(folder)
        return try listModels().map { id in
            let path = URL(fileURLWithPath: folder).appendingPathComponent("\(id).md").path
            try AtomicFile.write(Data(card(id).utf8), to: path)
            return path
        }
    }

    /// Writes the retinotopic mapping stimuli (rings, wedges, bars) as PNG into `folder`;
    /// returns how many.
    @discardableResult
    public static func writeRetinotopyStimuli(to folder: String, size: Int) throws -> Int {
        try writeImages(to: folder, size: size) { RetinotopyStimuli.make(size: $0) }
    }

    /// Writes `make(size)`'s square images as `<name>.png` into `folder`; returns how many.
    static func writeImages(to folder: String, size: Int, _ make: (Int) -> [RetinotopyStimuli.Image]) throws -> Int {
        guard (32...4096).contains(size) else {
            throw BERGError.invalidArgument(name: "stimulus size", value: String(size), message: "must be in 32...4096 pixels")
        }
        try createFolder(folder)
        let images = make(size)
        for image in images {
            let path = URL(fileURLWithPath: folder).appendingPathComponent("\(image.name).png").path
            try ImageCodec.writePNG(rgb: image.rgb, width: size, height: size, to: path)
        }
        return images.count
    }

    static func createFolder(_ folder: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        catch { throw BERGError.writeFailed(path: folder, message: "cannot create the folder: \(error.localizedDescription)") }
    }
    func createFolder(_ folder: String) throws { try BERG.createFolder(folder) }
}

/// Metadata as JSON (arrays as {dtype, shape, values}), as HDF5, and as a short summary.
enum MetadataExport {
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

    static func json(_ metadata: Metadata) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object(metadata), options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func writeHDF5(_ metadata: Metadata, to path: String) throws {
        try ResultWriter.writeHDF5File(to: path) { file in try file.writeMetadata(metadata, at: "metadata") }
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
