import BERGCore
import BERGFormats
import Foundation

/// RDM files: `.npy` (one square float64 [N, N] matrix) and `.h5`, in a layout that both
/// h5py users and rsatoolbox read:
///
/// ```
/// /                           attributes: dissimilarity_measure ("correlation", "sqeuclidean per unit", ...),
/// │                                       metric, per_unit, pca_components (with --pca), and the caller's
/// ├── <name>/                 one group per RDM: the layer or output name
/// │   └── dissimilarities     float64 [N(N−1)/2], the condensed upper triangle (i < j, row by row)
/// ├── dissimilarities         float64 [R, N(N−1)/2], the groups' rows stacked: a virtual dataset, stored once
/// ├── descriptors/            (empty)
/// ├── rdm_descriptors/
/// │   ├── index               int64 [R]
/// │   └── name                bytes [R], the RDM names
/// ├── pattern_descriptors/
/// │   ├── index               int64 [N]
/// │   └── stimulus_names      bytes [N] (UTF-8 strings when a name is not ASCII)
/// └── stimulus_names          UTF-8 strings [N], as `berg encode` writes them
/// ```
///
/// The root `dissimilarities`, the three descriptor groups and `dissimilarity_measure` are what
/// `rsatoolbox.rdm.load_rdm(path, file_type='hdf5')` reads (rsatoolbox 0.3.2's `RDMs.save`
/// layout); the rest it ignores. Reading takes this layout or rsatoolbox's own files.
public enum RDMFile {
    /// Names an RDM group may not take: rsatoolbox's entries at the root.
    static let reservedNames: Set = ["dissimilarities", "descriptors", "rdm_descriptors", "pattern_descriptors", "stimulus_names"]

    /// Writes `set` to `.npy` (it must hold one RDM) or `.h5` through a temporary file renamed
    /// into place. `attributes` go on the `.h5` root (such as berg_version and input).
    public static func write(_ set: RDMSet, to path: String, attributes: [String: String] = [:]) throws {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy":
            guard set.rdms.count == 1 else {
                throw BERGError.invalidArgument(name: "RDM output", value: path, message: "a .npy file holds one RDM, and there are \(set.rdms.count) (\(set.names.joined(separator: ", "))); pick one layer or output, or write .h5")
            }
            try NPYFile.write(set.rdms[0].square, to: path)
        case "h5", "hdf5":
            try writeHDF5(set, to: path, attributes: attributes)
        default:
            throw BERGError.invalidArgument(name: "RDM output", value: path, message: "name it .npy (one square RDM) or .h5 (RDMs by name, readable by rsatoolbox)")
        }
    }

    static func writeHDF5(_ set: RDMSet, to path: String, attributes: [String: String]) throws {
        for name in set.names where name.isEmpty || name.contains("/") || reservedNames.contains(name) {
            throw BERGError.invalidInput("An RDM cannot be named '\(name)' in an .h5 file (empty, '/' or one of \(reservedNames.sorted().joined(separator: ", "))); rename it")
        }
        try ResultWriter.writeHDF5File(to: path) { file in
            let pairs = RDM.pairCount(set.stimulusCount)
            for rdm in set.rdms {
                try file.write(try Tensor(shape: [pairs], doubles: rdm.dissimilarities), at: "\(rdm.name)/dissimilarities", compressed: true)
            }
            try file.writeVirtualRows(of: set.names.map { "\($0)/dissimilarities" }, length: pairs, at: "dissimilarities")
            try file.createGroup("descriptors")
            try file.write(try Tensor(shape: [set.rdms.count], int64s: (0..<set.rdms.count).map(Int64.init)), at: "rdm_descriptors/index")
            try writeDescriptorStrings(set.names, at: "rdm_descriptors/name", in: file)
            try file.write(try Tensor(shape: [set.stimulusCount], int64s: (0..<set.stimulusCount).map(Int64.init)), at: "pattern_descriptors/index")
            if !set.stimulusNames.isEmpty {
                try writeDescriptorStrings(set.stimulusNames, at: "pattern_descriptors/stimulus_names", in: file)
                try file.writeStrings(set.stimulusNames, at: "stimulus_names")
            }
            if let measure = set.measure {
                try file.setAttribute("dissimilarity_measure", .string(measure.description))
                try file.setAttribute("metric", .string(measure.metric.rawValue))
                try file.setAttribute("per_unit", .bool(measure.perUnit))
            }
            if let k = set.pcaComponents { try file.setAttribute("pca_components", .int(k)) }
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(key, .string(value)) }
        }
    }

    /// rsatoolbox writes descriptor strings as NumPy bytes (`S`), which it decodes as ASCII;
    /// names that are not ASCII go in as UTF-8 strings, which it keeps as bytes objects.
    static func writeDescriptorStrings(_ strings: [String], at name: String, in file: HDF5File) throws {
        if strings.allSatisfy({ $0.utf8.allSatisfy { $0 < 128 } }) {
            try file.writeFixedLengthStrings(strings, at: name)
        } else {
            try file.writeStrings(strings, at: name)
        }
    }

    /// Reads an RDM file: `.h5` (this layout or rsatoolbox's) or `.npy` (a square [N, N]
    /// matrix, or a condensed [N(N−1)/2] vector), named after the file.
    public static func read(_ path: String) throws -> RDMSet {
        guard FileManager.default.fileExists(atPath: path) else { throw BERGError.fileNotFound(path: path, hint: nil) }
        let stem = RDMInput.stem(of: path)
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "npy":
            if let rdm = try readSquareFloat64(path, name: stem) { return try RDMSet(rdms: [rdm], measure: nil) }
            let tensor = try NPYFile.read(path)
            if tensor.rank == 1 {
                guard let n = RDM.stimulusCount(pairs: tensor.count) else {
                    throw BERGError.invalidInput("\(path) holds \(tensor.count) values, which is no condensed RDM's length N(N−1)/2; give a square [N, N] RDM")
                }
                return try RDMSet(rdms: [RDM(name: stem, stimulusCount: n, dissimilarities: tensor.doubles)], measure: nil)
            }
            try checkSquareRDM(tensor, path: path)
            return try RDMSet(rdms: [RDM(name: stem, square: tensor)], measure: nil)
        case "h5", "hdf5":
            return try readHDF5(path, stem: stem)
        default:
            throw BERGError.invalidInput("Cannot tell the format of RDM file \(path): give an RDM .h5 file (BERG's or rsatoolbox's) or a square .npy RDM")
        }
    }

    static func readHDF5(_ path: String, stem: String) throws -> RDMSet {
        let file = try HDF5File(path: path, mode: .read)
        defer { try? file.close() }
        guard try file.exists("dissimilarities"), try file.kind(of: "dissimilarities") == .dataset else {
            throw BERGError.unexpectedContent(path: path, message: "no 'dissimilarities' dataset, so not an RDM file; compute RDMs from the patterns first")
        }
        let stack = try file.read("dissimilarities")
        let rows = stack.rank == 2 ? stack.shape[0] : 1, pairs = stack.shape.last ?? 0
        guard stack.rank == 1 || stack.rank == 2, rows >= 1, let n = RDM.stimulusCount(pairs: pairs) else {
            throw BERGError.unexpectedContent(path: path, message: "'dissimilarities' has shape \(stack.shape), not [RDMs, N(N−1)/2]")
        }
        var names = rows == 1 ? [stem] : (0..<rows).map { "\(stem)_\($0)" }
        if try file.exists("rdm_descriptors/name") {
            let stored = try file.readStrings("rdm_descriptors/name")
            if stored.count == rows { names = stored }
        }
        var stimulusNames: [String] = []
        for candidate in ["stimulus_names", "pattern_descriptors/stimulus_names"] where stimulusNames.isEmpty {
            if try file.exists(candidate) { stimulusNames = try file.readStrings(candidate) }
        }
        if stimulusNames.count != n { stimulusNames = [] }
        var measure: RDMMeasure? = nil
        if case .string(let text) = try? file.attribute("dissimilarity_measure") {
            // rsatoolbox's 'euclidean' RDMs say 'squared euclidean': Σ(a−b)²/P.
            measure = text == "squared euclidean" ? RDMMeasure(.sqeuclidean, perUnit: true) : RDMMeasure(description: text)
        }
        var pca: Int? = nil
        if case .int(let k) = try? file.attribute("pca_components") { pca = k }
        let values = stack.doubles
        let rdms = try (0..<rows).map { r in
            try RDM(name: names[r], stimulusCount: n, dissimilarities: Array(values[(r * pairs) ..< ((r + 1) * pairs)]))
        }
        return try RDMSet(rdms: rdms, stimulusNames: stimulusNames, measure: measure, pcaComponents: pca)
    }

    /// The common case, a square little-endian float64 `.npy`, read a block of rows at a time
    /// straight into the condensed triangle (the whole square is never in memory); nil for
    /// other layouts. Checks that the diagonal is 0 and, on every row of a sample of 64, that
    /// the matrix is symmetric (a patterns matrix that happens to be square fails at once).
    static func readSquareFloat64(_ path: String, name: String) throws -> RDM? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BERGError.fileNotFound(path: path, hint: nil) }
        defer { close(fd) }
        /// Reads exactly `count` bytes at `offset` into `buffer`, or fewer at the end of the file.
        func readAt(_ offset: Int, _ count: Int, into buffer: UnsafeMutableRawPointer) -> Int {
            var done = 0
            while done < count {
                let got = pread(fd, buffer + done, count - done, off_t(offset + done))
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { break }
                done += got
            }
            return done
        }
        var head = Data(count: 65_536)
        let headLength = head.withUnsafeMutableBytes { readAt(0, 65_536, into: $0.baseAddress!) }
        let header = try NPYFile.parseHeader(head.prefix(headLength), path: path)
        guard header.descr == "<f8", !header.fortranOrder, header.shape.count == 2, header.shape[0] == header.shape[1],
              header.shape[0] >= 2 else { return nil }
        let n = header.shape[0]
        var condensed = [Double](repeating: 0, count: RDM.pairCount(n))
        let blockRows = max(1, (1 << 20) / (n * 8))
        let block = UnsafeMutableBufferPointer<Double>.allocate(capacity: blockRows * n)
        defer { block.deallocate() }
        let sampleStep = max(1, n / 64)
        var scale = 1e-300, k = 0, row = 0
        while row < n {
            let rows = min(blockRows, n - row)
            guard readAt(header.dataOffset + row * n * 8, rows * n * 8, into: UnsafeMutableRawPointer(block.baseAddress!)) == rows * n * 8 else {
                throw BERGError.corruptFile(path: path, offset: header.dataOffset + row * n * 8,
                                            message: "truncated .npy data: [\(n), \(n)] float64 needs \(n * n * 8) bytes")
            }
            try condensed.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    let i = row + r, values = block.baseAddress! + r * n
                    guard values[i] == 0 || values[i].isNaN else {
                        throw BERGError.invalidInput("\(path) is not an RDM: entry (\(i), \(i)) of the diagonal is \(values[i]), not 0 (patterns need to become an RDM first)")
                    }
                    for j in (i + 1)..<n {
                        out[k] = values[j]
                        k += 1
                        if abs(values[j]) > scale { scale = abs(values[j]) }
                    }
                    if i % sampleStep == 0 {
                        for j in 0..<i where abs(values[j] - out[RDM.pairIndex(j, i, stimuli: n)]) > 1e-6 * scale {
                            throw BERGError.invalidInput("\(path) is not an RDM: it is not symmetric at (\(i), \(j)) (patterns need to become an RDM first)")
                        }
                    }
                }
            }
            row += rows
        }
        return try RDM(name: name, stimulusCount: n, dissimilarities: condensed)
    }

    /// A square RDM is symmetric with a zero diagonal; anything else (such as a patterns
    /// matrix that happens to be square) is refused.
    static func checkSquareRDM(_ tensor: Tensor, path: String) throws {
        guard tensor.rank == 2, tensor.shape[0] == tensor.shape[1] else {
            throw BERGError.invalidInput("\(path) has shape \(tensor.shape); an RDM .npy is square [N, N] (patterns need to become an RDM first)")
        }
        try tensor.doubles.withUnsafeBufferPointer { try checkSymmetric($0, size: tensor.shape[0], path: path) }
    }

    static func checkSymmetric(_ values: UnsafeBufferPointer<Double>, size n: Int, path: String) throws {
        var scale = 1e-300
        for v in values where abs(v) > scale { scale = abs(v) }
        let tolerance = 1e-6 * scale
        for i in 0..<n where !(values[i * n + i] == 0 || values[i * n + i].isNaN) {
            throw BERGError.invalidInput("\(path) is not an RDM: entry (\(i), \(i)) of the diagonal is \(values[i * n + i]), not 0 (patterns need to become an RDM first)")
        }
        // In tiles, so that reading the lower triangle column by column stays in cache.
        let tile = 64
        for rowStart in stride(from: 0, to: n, by: tile) {
            for columnStart in stride(from: rowStart, to: n, by: tile) {
                for i in rowStart..<min(n, rowStart + tile) {
                    for j in max(i + 1, columnStart)..<max(i + 1, min(n, columnStart + tile)) {
                        let upper = values[i * n + j], lower = values[j * n + i]
                        guard abs(upper - lower) <= tolerance || (upper.isNaN && lower.isNaN) else {
                            throw BERGError.invalidInput("\(path) is not an RDM: it is not symmetric at (\(i), \(j)) (patterns need to become an RDM first)")
                        }
                    }
                }
            }
        }
    }
}
