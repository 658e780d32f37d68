import BERGCore
import Foundation

/// Writes an `EncodingResult` to the file the user named, by its extension:
///
/// - `.npy`: the single response array as float32 ([N, V] as the model gives it). A result with
///   several named outputs (such as `lh` and `rh`) cannot go in one `.npy`; that is an error
///   that says to use `.npz` or `.h5`.
/// - `.npz`: one float32 array per output, named as the output (`responses`, or `lh` and
///   `rh`), stored as `np.savez` stores them.
/// - `.h5` / `.hdf5`:
///   ```
///   /                      attributes: the `attributes` given (model_id, subject, selection, berg_version, ...)
///   ├── responses          float32 [N, V], when the only output is named "responses"
///   ├── responses/<name>   one float32 dataset per named output otherwise (lh, rh, ...)
///   ├── stimulus_names     UTF-8 strings [N]
///   ├── <label>            the labels of the selected units, where the model has them
///   │                      (an EEG model's ch_names and times)
///   └── metadata/          the result's metadata (only with `includeMetadata`)
///   ```
///   Large datasets are chunked and gzip-compressed; no modification times are recorded, so
///   the same result gives the same bytes.
///
/// Either way the file is written under a temporary name in the same folder and renamed into
/// place, so a failed run never leaves a half-written output. `writer(for:count:…)` gives the
/// same file written a batch at a time.
public enum ResultWriter {
    public static func write(_ result: EncodingResult, to path: String, stimulusNames: [String],
                             attributes: [String: HDF5File.AttributeValue], includeMetadata: Bool) throws {
        guard let count = result.responses.values.first?.shape.first else {
            throw BERGError.invalidInput("The encoding result has no responses to write")
        }
        let writer = try self.writer(for: path, count: count, outputs: result.outputNames,
                                     attributes: attributes, includeMetadata: includeMetadata)
        do {
            try writer.append(result)
            try writer.finish(EncodingSummary(metadata: result.metadata, stimulusNames: stimulusNames, placement: result.placement))
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// A writer for `count` stimuli of the named outputs, by the file's extension.
    public static func writer(for path: String, count: Int, outputs: [String], attributes: [String: HDF5File.AttributeValue],
                              includeMetadata: Bool) throws -> ResultSink {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy":
            guard outputs.count == 1 else {
                throw BERGError.invalidInput("The model gives several outputs (\(outputs.joined(separator: ", "))), which one .npy file cannot hold apart; write an .npz or .h5 file instead (for example --output responses.npz)")
            }
            try checkWritableFolder(of: path)
            return try NPYResultWriter(path: path, count: count)
        case "npz":
            try checkWritableFolder(of: path)
            return NPZResultWriter(path: path, count: count)
        case "h5", "hdf5":
            try checkWritableFolder(of: path)
            return try HDF5ResultWriter(path: path, count: count, attributes: attributes, includeMetadata: includeMetadata)
        default:
            throw BERGError.invalidInput("Cannot tell the output format of '\(path)': name it .npy (one output), .npz (one array per output) or .h5 (responses, stimulus names and metadata)")
        }
    }

    /// A writer of the `.h5` layout above into `group` of an HDF5 file the caller creates and
    /// renames into place (`writeHDF5File`), such as one group per result of a merged file.
    /// Its `commit` and `discard` leave the file to the caller.
    public static func writer(into file: HDF5File, group: String, count: Int, attributes: [String: HDF5File.AttributeValue],
                              includeMetadata: Bool) -> ResultSink {
        HDF5ResultWriter(file: file, group: group, count: count, attributes: attributes, includeMetadata: includeMetadata)
    }

    /// The labels of the selected units in an `.h5` result (or in `group` of one), as the
    /// layout above puts them beside the responses: every dataset or group there but
    /// `responses`, `stimulus_names` and `metadata`. Empty for a model without labels.
    public static func readLabels(_ file: HDF5File, group: String = "") throws -> Metadata {
        try HDF5File.locked {
            let prefix = group.isEmpty ? "/" : group + "/"
            var labels = Metadata()
            for child in try file.children(of: group.isEmpty ? "/" : group)
            where !["responses", "stimulus_names", "metadata"].contains(child) {
                switch try file.kind(of: prefix + child) {
                case .dataset: labels[child] = try file.readValue(prefix + child)
                case .group: labels[child] = .group(try file.readMetadata(at: prefix + child, depth: 1))
                case .other: continue
                }
            }
            return labels
        }
    }

    /// The root attributes of a result file, from the run's metadata: model id, subject (an
    /// integer, as in `metadata/subject`), selection (`key=value,…`), BERG version, and how the
    /// images were cropped.
    static func runAttributes(_ metadata: Metadata) -> [String: HDF5File.AttributeValue] {
        var attributes: [String: HDF5File.AttributeValue] = [:]
        if let id = metadata.string("model_id") { attributes["model_id"] = .string(id) }
        if let subject = metadata.int("subject") { attributes["subject"] = .int(subject) }
        if let version = metadata.string("berg_version") { attributes["berg_version"] = .string(version) }
        if let crop = metadata.string("stimulus_crop") { attributes["stimulus_crop"] = .string(crop) }
        if let selection = metadata.group("selection") {
            attributes["selection"] = .string(selection.entries.map { key, value in
                if case .string(let s) = value { return "\(key)=\(s)" }
                return key
            }.joined(separator: ","))
        }
        return attributes
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
            throw BERGError.writeFailed(path: path, message: "it is a folder; give a file name ending in .npy, .npz or .h5")
        }
        return folder
    }

    /// Creates an HDF5 file at a temporary name beside `path`, lets `body` fill it, and renames
    /// it into place; on any failure the temporary file is removed and nothing appears at `path`.
    public static func writeHDF5File(to path: String, _ body: (HDF5File) throws -> Void) throws {
        let staged = try StagedHDF5File(path: path)
        do {
            try body(staged.file)
            try staged.commit()
        } catch {
            staged.discard()
            throw error
        }
    }
}

/// An HDF5 file created under a temporary name and renamed into place by `commit()`.
final class StagedHDF5File {
    let path: String
    let temporaryPath: String
    let file: HDF5File
    private var done = false

    init(path: String) throws {
        let folder = try ResultWriter.checkWritableFolder(of: path)
        self.path = path
        temporaryPath = folder.appendingPathComponent(".\(URL(fileURLWithPath: path).lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        file = try HDF5File(path: temporaryPath, mode: .create)
    }

    deinit { discard() }

    func commit() throws {
        guard !done else { return }
        done = true
        do {
            try file.close()
            guard rename(temporaryPath, path) == 0 else { throw BERGError.writeFailed(path: path, message: String(cString: strerror(errno))) }
        } catch {
            unlink(temporaryPath)
            if case BERGError.writeFailed(_, let message) = error { throw BERGError.writeFailed(path: path, message: message) }
            throw error
        }
    }

    func discard() {
        guard !done else { return }
        done = true
        try? file.close()
        unlink(temporaryPath)
    }
}

/// Rows of the one output, appended to a `.npy` whose header already holds the final count.
final class NPYResultWriter: ResultSink {
    private let file: StagedFile
    private let count: Int
    private var rows = 0
    private var rowShape: [Int]?

    init(path: String, count: Int) throws {
        file = try StagedFile(path: path)
        self.count = count
    }

    func append(_ batch: EncodingResult) throws {
        let tensor = try batch.response.asFloat32
        guard let n = tensor.shape.first else { throw BERGError.invalidInput("a response array needs an images axis") }
        let shape = Array(tensor.shape.dropFirst())
        if rowShape == nil {
            rowShape = shape
            try file.write(NPYFile.header(shape: [count] + shape, dtype: .float32))
        }
        guard shape == rowShape, rows + n <= count else {
            throw BERGError.shapeMismatch(what: "responses appended to \(file.path)", expected: [count - rows] + (rowShape ?? []), actual: tensor.shape)
        }
        try file.write(RawArray.littleEndianBytes(of: tensor))
        rows += n
    }

    func finish(_ summary: EncodingSummary) throws {
        guard rows == count, rowShape != nil else {
            throw BERGError.shapeMismatch(what: "responses written to \(file.path)", expected: [count], actual: [rows])
        }
    }

    func commit() throws { try file.commit() }

    func discard() { file.discard() }
}

/// Response datasets made at the first batch and filled a slab of rows at a time; names,
/// metadata and attributes written at the end.
final class HDF5ResultWriter: ResultSink {
    /// The file when this writer made it; nil when it writes into a group of the caller's file.
    private let staged: StagedHDF5File?
    private let file: HDF5File
    /// "" for the root, else the group's name followed by "/".
    private let prefix: String
    private let count: Int
    private let attributes: [String: HDF5File.AttributeValue]
    private let includeMetadata: Bool
    private var rows = 0
    /// Output name → dataset name, once made.
    private var datasets: [String: String] = [:]
    /// The labels of the selected units (the same in every batch).
    private var labels = Metadata()

    init(path: String, count: Int, attributes: [String: HDF5File.AttributeValue], includeMetadata: Bool) throws {
        let staged = try StagedHDF5File(path: path)
        self.staged = staged
        file = staged.file
        prefix = ""
        self.count = count
        self.attributes = attributes
        self.includeMetadata = includeMetadata
    }

    init(file: HDF5File, group: String, count: Int, attributes: [String: HDF5File.AttributeValue], includeMetadata: Bool) {
        staged = nil
        self.file = file
        prefix = group.isEmpty ? "" : group + "/"
        self.count = count
        self.attributes = attributes
        self.includeMetadata = includeMetadata
    }

    func append(_ batch: EncodingResult) throws {
        if labels.isEmpty { labels = batch.labels }
        if datasets.isEmpty {
            let single = batch.responses.count == 1 && batch.responses["responses"] != nil
            for name in batch.outputNames {
                let tensor = batch.responses[name]!
                let dataset = prefix + (single ? "responses" : "responses/\(name)")
                try file.createDataset(dataset, shape: [count] + tensor.shape.dropFirst(), dtype: .float32, compressed: true)
                datasets[name] = dataset
            }
        }
        guard Set(batch.outputNames) == Set(datasets.keys) else {
            throw BERGError.invalidInput("a batch gave the outputs \(batch.outputNames), earlier ones \(datasets.keys.sorted())")
        }
        var n = 0
        for (name, dataset) in datasets {
            let tensor = batch.responses[name]!.asFloat32
            n = tensor.shape.first ?? 0
            try file.writeRows(tensor, at: dataset, start: rows)
        }
        rows += n
    }

    func finish(_ summary: EncodingSummary) throws {
        guard rows == count, !datasets.isEmpty else {
            throw BERGError.shapeMismatch(what: "responses written to \(staged?.path ?? file.path)", expected: [count], actual: [rows])
        }
        if !summary.stimulusNames.isEmpty { try file.writeStrings(summary.stimulusNames, at: prefix + "stimulus_names") }
        if !labels.isEmpty { try file.writeMetadata(labels, at: prefix.isEmpty ? "/" : String(prefix.dropLast())) }
        if includeMetadata { try file.writeMetadata(summary.metadata, at: prefix + "metadata") }
        let all = ResultWriter.runAttributes(summary.metadata).merging(attributes) { _, given in given }
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            try file.setAttribute(key, value, on: prefix.isEmpty ? "/" : String(prefix.dropLast()))
        }
    }

    func commit() throws { try staged?.commit() }

    func discard() { staged?.discard() }
}

/// One array per output in an `.npz` (stored members, as `np.savez`), each output's rows
/// written into its member as the batches come; the archive's layout is fixed by the first
/// batch, which gives every output's shape.
final class NPZResultWriter: ResultSink {
    private let path: String
    private let count: Int
    private var archive: NPZFile.StreamWriter?
    private var names: [String] = []
    private var rows = 0

    init(path: String, count: Int) {
        self.path = path
        self.count = count
    }

    func append(_ batch: EncodingResult) throws {
        if archive == nil {
            names = batch.outputNames
            archive = try NPZFile.StreamWriter(path: path, members: names.map { name in
                (name, [count] + Array(batch.responses[name]!.shape.dropFirst()))
            })
        }
        guard let archive, batch.outputNames == names else {
            throw BERGError.invalidInput("a batch gave the outputs \(batch.outputNames), earlier ones \(names)")
        }
        var n = 0
        for (member, name) in names.enumerated() {
            let tensor = batch.responses[name]!.asFloat32
            n = tensor.shape.first ?? 0
            guard case .float32(let values) = tensor.storage else { continue }
            try values.withUnsafeBytes { try archive.append(member: member, bytes: $0) }
        }
        rows += n
    }

    func finish(_ summary: EncodingSummary) throws {
        guard let archive, rows == count else {
            throw BERGError.shapeMismatch(what: "responses written to \(path)", expected: [count], actual: [rows])
        }
        try archive.finish()
    }

    func commit() throws { try archive?.commit() }

    func discard() { archive?.discard() }
}
