import BERGCore
import Foundation

/// The fields of a NIfTI-1 header that reading and the affine need.
public struct NIfTIHeader: Sendable, Equatable {
    /// `dim[1...dim[0]]`: (x, y, z[, t, ...]).
    public var shape: [Int]
    /// The NIfTI datatype code (2 uint8, 4 int16, 8 int32, 16 float32, 64 float64, ...).
    public var datatypeCode: Int
    /// `pixdim[0...7]`; `pixdim[0]` is qfac.
    public var pixdim: [Float]
    public var voxOffset: Int
    public var sclSlope: Float
    public var sclInter: Float
    public var qformCode: Int
    public var sformCode: Int
    /// quatern_b, quatern_c, quatern_d.
    public var quaternion: [Float]
    /// qoffset_x, qoffset_y, qoffset_z.
    public var qoffset: [Float]
    /// srow_x, srow_y, srow_z.
    public var srow: [[Float]]
    public var description: String
    public var bigEndian: Bool
    /// `intent_code`: what the values mean (FSL's FNIRT files use 2006–2018).
    public var intentCode: Int = 0
    /// `intent_p1`, `intent_p2`, `intent_p3`.
    public var intentParameters: [Float] = [0, 0, 0]
}

/// A NIfTI-1 image as nibabel gives it.
public struct NIfTIImage: Sendable {
    public var header: NIfTIHeader
    /// The voxel-to-world 4×4 matrix, equal to nibabel's `img.affine`.
    public var affine: [[Double]]
    /// The stored values (before scl_slope/scl_inter), shaped (x, y, z[, t]) in C order, so that
    /// `raw[i, j, k]` is nibabel's `img.dataobj.get_unscaled()[i, j, k]`. Unsigned 16/32-bit
    /// become int32/int64.
    public var raw: Tensor

    public var shape: [Int] { header.shape }

    /// The scaled values as float64, equal to nibabel's `img.get_fdata()` (C-order indexing of
    /// this tensor equals NumPy indexing of that array).
    public func data() throws -> Tensor {
        let values = raw.doubles
        if let (slope, inter) = NIfTIFile.scaling(header) {
            return try Tensor(shape: raw.shape, doubles: values.map { $0 * slope + inter })
        }
        return try Tensor(shape: raw.shape, doubles: values)
    }
}

/// NIfTI-1 single files, `.nii` and `.nii.gz`: reading (header, affine, data in nibabel's axis
/// order), writing float32 volumes with an affine, and NumPy-compatible boolean-mask indexing.
///
/// The file stores x fastest (Fortran order); reading reorders into C order over (x, y, z[, t])
/// so that flat C-order positions match NumPy's `volume[mask]` on nibabel's array.
public enum NIfTIFile {
    static let headerSize = 348
    /// The largest data this reader allocates (`ReadLimits.maxBytes`).
    public static var maxDataBytes: Int { ReadLimits.maxBytes }

    /// The header alone: of a `.nii.gz`, only its first bytes are inflated.
    public static func readHeader(_ path: String) throws -> NIfTIHeader {
        try readHeader(NPYFile.readFile(path), path: path)
    }

    static func readHeader(_ file: Data, path: String) throws -> NIfTIHeader {
        let head = Gzip.isGzip(file) ? try Gzip.inflate(file, limit: headerSize, path: path) : file.prefix(headerSize)
        return try parseHeader(Data(head), path: path)
    }

    public static func read(_ path: String) throws -> NIfTIImage {
        let file = try NPYFile.readFile(path)
        let gzipped = Gzip.isGzip(file)
        // Inflate the header first, then exactly as much data as it declares.
        let header = try readHeader(file, path: path)
        guard let (dtype, width) = storedType(header.datatypeCode) else {
            throw BERGError.unexpectedContent(path: path, message: "NIfTI datatype \(header.datatypeCode) is not supported (uint8, int8, int16, uint16, int32, uint32, int64, float32 and float64 are)")
        }
        let count = try NPYFile.checkedCount(header.shape, path: path)
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, dataBytes <= maxDataBytes else {
            throw BERGError.limitExceeded(what: "NIfTI data size of \(path) in bytes", limit: maxDataBytes, actual: overflow ? Int.max : dataBytes)
        }
        let needed = header.voxOffset + dataBytes
        if gzipped { try ReadLimits.checkInflation(declared: needed, compressed: file.count, of: "NIfTI data", path: path) }
        let body = gzipped ? try Gzip.inflate(file, limit: needed, path: path) : file
        guard body.count >= needed else {
            throw BERGError.corruptFile(path: path, offset: body.count,
                                        message: "truncated NIfTI: shape \(header.shape) needs \(dataBytes) data bytes from byte \(header.voxOffset), the file has \(max(0, body.count - header.voxOffset))")
        }
        let start = body.startIndex + header.voxOffset
        let rawBytes = body[start ..< start + dataBytes]
        let stored = try decode(rawBytes, datatypeCode: header.datatypeCode, dtype: dtype, bigEndian: header.bigEndian,
                                shape: header.shape)
        let raw = header.shape.count > 1 ? try RawArray.fortranToC(stored) : stored
        return NIfTIImage(header: header, affine: try affine(header, path: path), raw: raw)
    }

    /// Parses a 348-byte NIfTI-1 header of either byte order.
    public static func parseHeader(_ data: Data, path: String) throws -> NIfTIHeader {
        guard data.count >= headerSize else {
            throw BERGError.corruptFile(path: path, offset: data.count, message: "truncated NIfTI header (\(data.count) of 348 bytes)")
        }
        let bytes = [UInt8](data.prefix(headerSize))
        let little = bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        let bigEndian: Bool
        if Int32(littleEndian: little) == 348 { bigEndian = false }
        else if Int32(bigEndian: little) == 348 { bigEndian = true }
        else {
            throw BERGError.corruptFile(path: path, offset: 0, message: "not a NIfTI-1 file (sizeof_hdr is not 348)")
        }
        func u16(_ o: Int) -> UInt16 {
            let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt16.self) }
            return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
        }
        func i16(_ o: Int) -> Int { Int(Int16(bitPattern: u16(o))) }
        func f32(_ o: Int) -> Float {
            let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) }
            return Float(bitPattern: bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v))
        }
        let magic = Array(bytes[344..<348])
        guard magic == [0x6E, 0x2B, 0x31, 0] || magic == [0x6E, 0x69, 0x31, 0] else {
            throw BERGError.corruptFile(path: path, offset: 344, message: "not a NIfTI-1 file (magic is not 'n+1' or 'ni1'); NIfTI-2 and Analyze are not supported")
        }
        guard magic[1] == 0x2B else {
            throw BERGError.unexpectedContent(path: path, message: "a NIfTI pair (.hdr/.img) is not supported; save it as a single .nii or .nii.gz")
        }
        let rank = i16(40)
        guard (1...7).contains(rank) else {
            throw BERGError.corruptFile(path: path, offset: 40, message: "NIfTI dim[0] is \(rank), expected 1–7")
        }
        let shape = (1...rank).map { i16(40 + 2 * $0) }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw BERGError.corruptFile(path: path, offset: 42, message: "NIfTI has a negative dimension: \(shape)")
        }
        let voxOffset = f32(108)
        guard voxOffset.isFinite, voxOffset >= 0, voxOffset < Float(1 << 30) else {
            throw BERGError.corruptFile(path: path, offset: 108, message: "NIfTI vox_offset \(voxOffset) is invalid")
        }
        let description = String(decoding: bytes[148..<228].prefix { $0 != 0 }, as: UTF8.self)
        return NIfTIHeader(
            shape: shape, datatypeCode: i16(70), pixdim: (0..<8).map { f32(76 + 4 * $0) },
            // vox_offset below 352 (the header plus the extension flag) is read as 352, as nibabel does.
            voxOffset: max(352, Int(voxOffset)), sclSlope: f32(112), sclInter: f32(116),
            qformCode: i16(252), sformCode: i16(254),
            quaternion: [f32(256), f32(260), f32(264)], qoffset: [f32(268), f32(272), f32(276)],
            srow: (0..<3).map { row in (0..<4).map { f32(280 + 16 * row + 4 * $0) } },
            description: description, bigEndian: bigEndian,
            intentCode: i16(68), intentParameters: [f32(56), f32(60), f32(64)])
    }

    /// (dtype, bytes per value) for the datatype codes read.
    static func storedType(_ code: Int) -> (DType, Int)? {
        switch code {
        case 2: return (.uint8, 1)
        case 256: return (.int8, 1)
        case 4: return (.int16, 2)
        case 512: return (.int32, 2) // uint16, widened
        case 8: return (.int32, 4)
        case 768: return (.int64, 4) // uint32, widened
        case 1024: return (.int64, 8)
        case 16: return (.float32, 4)
        case 64: return (.float64, 8)
        default: return nil
        }
    }

    static func decode(_ raw: Data, datatypeCode: Int, dtype: DType, bigEndian: Bool, shape: [Int]) throws -> Tensor {
        switch datatypeCode {
        case 512:
            let t = try RawArray.tensor(from: raw, dtype: .int16, bigEndian: bigEndian, shape: shape)
            guard case .int16(let v) = t.storage else { return t }
            return try Tensor(shape: shape, storage: .int32(v.map { Int32(UInt16(bitPattern: $0)) }))
        case 768:
            let t = try RawArray.tensor(from: raw, dtype: .int32, bigEndian: bigEndian, shape: shape)
            guard case .int32(let v) = t.storage else { return t }
            return try Tensor(shape: shape, storage: .int64(v.map { Int64(UInt32(bitPattern: $0)) }))
        default:
            return try RawArray.tensor(from: raw, dtype: dtype, bigEndian: bigEndian, shape: shape)
        }
    }

    /// nibabel's read scaling: none when scl_slope is 0 or not finite.
    static func scaling(_ header: NIfTIHeader) -> (Double, Double)? {
        let slope = Double(header.sclSlope), inter = Double(header.sclInter)
        guard slope != 0, slope.isFinite else { return nil }
        if slope == 1, inter == 0 { return nil }
        return (slope, inter.isFinite ? inter : 0)
    }

    /// nibabel's `get_best_affine`: the sform when sform_code ≠ 0, else the qform when
    /// qform_code ≠ 0, else the base affine from pixdim (x flipped, centred).
    public static func affine(_ header: NIfTIHeader, path: String) throws -> [[Double]] {
        if header.sformCode != 0 {
            return header.srow.map { $0.map(Double.init) } + [[0, 0, 0, 1]]
        }
        if header.qformCode != 0 { return try qformAffine(header, path: path) }
        // shape_zoom_affine(shape[:3], pixdim[1:4], x_flip=True), padding to 3-D with ones.
        var shape = [Double](repeating: 1, count: 3), zooms = [Double](repeating: 1, count: 3)
        for d in 0..<min(3, header.shape.count) {
            shape[d] = Double(header.shape[d])
            zooms[d] = Double(header.pixdim[d + 1])
        }
        zooms[0] = -zooms[0]
        var out = identity()
        for d in 0..<3 {
            out[d][d] = zooms[d]
            out[d][3] = -((shape[d] - 1) / 2) * zooms[d]
        }
        return out
    }

    static func identity() -> [[Double]] {
        (0..<4).map { r in (0..<4).map { c in r == c ? 1 : 0 } }
    }

    /// The qform: rotation from the unit quaternion (w ≥ 0 recovered from b, c, d), voxel sizes
    /// pixdim[1...3] with qfac applied to z, and the q-offsets.
    static func qformAffine(_ header: NIfTIHeader, path: String) throws -> [[Double]] {
        let (b, c, d) = (Double(header.quaternion[0]), Double(header.quaternion[1]), Double(header.quaternion[2]))
        let w2 = 1 - (b * b + c * c + d * d)
        let threshold = Double(Float.ulpOfOne) * 3
        let a: Double
        if abs(w2) < threshold { a = 0 }
        else if w2 < 0 {
            throw BERGError.corruptFile(path: path, offset: 256, message: "NIfTI qform quaternion is not a unit quaternion (b²+c²+d² > 1)")
        } else { a = w2.squareRoot() }
        var vox = (1...3).map { Double(header.pixdim[$0]) }
        guard vox.allSatisfy({ $0 >= 0 }) else {
            throw BERGError.corruptFile(path: path, offset: 80, message: "NIfTI pixdim[1...3] must be positive for a qform")
        }
        // qfac (pixdim[0]) is ±1; the standard says to read 0 as 1.
        if header.pixdim[0] == -1 { vox[2] = -vox[2] }
        let n = a * a + b * b + c * c + d * d
        var rotation: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        if n >= Double.ulpOfOne {
            let s = 2 / n
            let (x, y, z) = (b * s, c * s, d * s)
            let (wx, wy, wz) = (a * x, a * y, a * z)
            let (xx, xy, xz) = (b * x, b * y, b * z)
            let (yy, yz, zz) = (c * y, c * z, d * z)
            rotation = [[1 - (yy + zz), xy - wz, xz + wy],
                        [xy + wz, 1 - (xx + zz), yz - wx],
                        [xz - wy, yz + wx, 1 - (xx + yy)]]
        }
        var out = identity()
        for r in 0..<3 {
            for col in 0..<3 { out[r][col] = rotation[r][col] * vox[col] }
            out[r][3] = Double(header.qoffset[r])
        }
        return out
    }

    // MARK: Masks

    /// The multi-indices where `mask > threshold`, in C order: NumPy's
    /// `np.argwhere(mask > threshold)` on nibabel's array.
    public static func maskIndices(_ mask: Tensor, above threshold: Double = 0) -> [[Int]] {
        let values = mask.doubles
        let shape = mask.shape
        var result: [[Int]] = []
        for flat in values.indices where values[flat] > threshold {
            var index = [Int](repeating: 0, count: shape.count)
            var rest = flat
            for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
                index[d] = rest % shape[d]
                rest /= shape[d]
            }
            result.append(index)
        }
        return result
    }

    /// NumPy's `volume[mask > threshold]`: the selected voxels in C order. A volume with more
    /// dimensions than the mask (such as time) gives [count, rest...].
    public static func select(_ volume: Tensor, mask: Tensor, above threshold: Double = 0) throws -> Tensor {
        guard volume.shape.count >= mask.shape.count, Array(volume.shape.prefix(mask.shape.count)) == mask.shape else {
            throw BERGError.shapeMismatch(what: "volume[mask]: the volume's leading dimensions must equal the mask's",
                                          expected: mask.shape, actual: volume.shape)
        }
        let inner = Tensor.count(of: Array(volume.shape.dropFirst(mask.shape.count)))
        let maskValues = mask.doubles
        let values = volume.floats
        var out: [Float] = []
        var count = 0
        for flat in maskValues.indices where maskValues[flat] > threshold {
            out.append(contentsOf: values[flat * inner ..< (flat + 1) * inner])
            count += 1
        }
        return try Tensor(shape: [count] + volume.shape.dropFirst(mask.shape.count), floats: out)
    }

    // MARK: Writing

    /// Writes a float32 volume (x, y, z[, t], C order) with a 4×4 affine as NIfTI-1 (`.nii`,
    /// or `.nii.gz` when the name ends in `.gz`). The affine goes in the sform (code 2,
    /// aligned); pixdim holds the voxel sizes (column norms). NaN values are kept.
    /// `threads` workers compress (all cores when nil).
    public static func write(_ volume: Tensor, affine: [[Double]], to path: String, threads: Int? = nil) throws {
        let shape = volume.shape
        let values = volume.floats
        // The file runs x fastest: gather each run along x from the C-order array.
        let cStrides = shape.indices.map { d in shape[(d + 1)...].reduce(1, *) }
        try write(shape: shape, affine: affine, to: path, threads: threads) { range, out in
            values.withUnsafeBufferPointer { src in
                var index = [Int](repeating: 0, count: shape.count)
                var rest = range.lowerBound
                for d in shape.indices { index[d] = rest % shape[d]; rest /= shape[d] }
                var c = zip(index, cStrides).map { $0 * $1 }.reduce(0, +)
                var f = range.lowerBound
                while f < range.upperBound {
                    let run = min(shape[0] - index[0], range.upperBound - f)
                    for r in 0..<run { out[f - range.lowerBound + r] = src[c + r * cStrides[0]] }
                    f += run
                    index[0] += run; c += run * cStrides[0]
                    var d = 0
                    while d + 1 < shape.count, index[d] == shape[d] {
                        index[d] = 0; c -= shape[d] * cStrides[d]
                        d += 1
                        index[d] += 1; c += cStrides[d]
                    }
                }
            }
        }
    }

    /// Writes a float32 NIfTI-1 like `write(_:affine:to:threads:)`, asking `values(range, out)`
    /// for the voxel values at file positions `range` (x fastest, then y, z, t: position
    /// i + X·(j + Y·(k + Z·t))). It is called from several threads at once for disjoint ranges,
    /// about a million values at a time, so the whole volume never has to exist in memory;
    /// `.nii.gz` is compressed as it goes (zlib level 1, nibabel's default) and the file appears
    /// at `path` only once complete.
    /// `sformCode` says what the affine's world is (2 aligned, 4 MNI-152); `timeStep` is the
    /// seconds between volumes of a 4-D series (pixdim[4]).
    public static func write(shape: [Int], affine: [[Double]], to path: String, threads: Int? = nil,
                             sformCode: Int = 2, timeStep: Double? = nil,
                             values: @escaping @Sendable (Range<Int>, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let header = try header(shape: shape, affine: affine, sformCode: sformCode, timeStep: timeStep)
        let count = Tensor.count(of: shape)
        let littleEndianHost = 1.littleEndian == 1
        let fill: @Sendable (Range<Int>, UnsafeMutableRawBufferPointer) -> Void = { range, out in
            // Chunk bounds are multiples of 4 bytes and the header is 352 bytes, so each chunk's
            // data part holds whole float32 values.
            let headerPart = range.clamped(to: 0..<header.count)
            for b in headerPart { out[b - range.lowerBound] = header[b] }
            guard range.upperBound > header.count else { return }
            let first = (max(range.lowerBound, header.count) - header.count) / 4
            let last = (range.upperBound - header.count) / 4
            let floats = UnsafeMutableRawBufferPointer(rebasing: out[headerPart.count...]).bindMemory(to: Float.self)
            values(first..<last, UnsafeMutableBufferPointer(rebasing: floats[0..<(last - first)]))
            if !littleEndianHost {
                for i in 0..<(last - first) { floats[i] = Float(bitPattern: floats[i].bitPattern.littleEndian) }
            }
        }
        let gzipped = path.lowercased().hasSuffix(".gz")
        try AtomicFile.write(to: path) { sink in
            try Gzip.stream(count: header.count + 4 * count, level: gzipped ? 1 : nil,
                            threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, fill: fill, sink: sink)
        }
    }

    /// Writes a float32 NIfTI-1 a volume at a time (the last axis, images, runs slowest in the
    /// file): the header first, then each `[X, Y, Z]` block in file order as it comes, through
    /// the same gzip stream `write(shape:affine:to:values:)` uses, so the bytes are the same.
    public final class StreamWriter {
        private let file: StagedFile
        private let gzip: GzipWriter
        private let blockCount: Int
        private let blocks: Int
        private var written = 0

        /// `sformCode` and `timeStep` as for `write(shape:affine:to:values:)`.
        public init(path: String, shape: [Int], affine: [[Double]], threads: Int, sformCode: Int = 2,
                    timeStep: Double? = nil) throws {
            guard shape.count >= 2 else { throw BERGError.shapeMismatch(what: "a streamed NIfTI volume", expected: [-1, -1, -1, -1], actual: shape) }
            let header = try NIfTIFile.header(shape: shape, affine: affine, sformCode: sformCode, timeStep: timeStep)
            let file = try StagedFile(path: path)
            self.file = file
            gzip = GzipWriter(level: path.lowercased().hasSuffix(".gz") ? 1 : nil, threads: threads) { try file.write($0) }
            blockCount = shape.dropLast().reduce(1, *)
            blocks = shape.last!
            try header.withUnsafeBytes { try gzip.write($0) }
        }

        /// The next volume, `X·Y·Z` values in file order (x fastest).
        public func append(_ values: UnsafeBufferPointer<Float>) throws {
            guard values.count == blockCount, written < blocks else {
                throw BERGError.shapeMismatch(what: "volume \(written) of \(file.path)", expected: [blockCount], actual: [values.count])
            }
            if 1.littleEndian == 1 {
                try gzip.write(UnsafeRawBufferPointer(values))
            } else {
                try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try gzip.write($0) }
            }
            written += 1
        }

        public func finish() throws {
            guard written == blocks else {
                throw BERGError.shapeMismatch(what: "volumes written to \(file.path)", expected: [blocks], actual: [written])
            }
            try gzip.finish()
        }

        /// Renames the finished file into place.
        public func commit() throws { try file.commit() }

        public func discard() { file.discard() }
    }

    /// The 352 bytes before the data of a float32 volume: the header with the affine in the
    /// sform, and an empty extension flag.
    static func header(shape: [Int], affine: [[Double]], sformCode: Int = 2, timeStep: Double? = nil) throws -> [UInt8] {
        guard (3...4).contains(shape.count), shape.allSatisfy({ (1...32767).contains($0) }) else {
            throw BERGError.invalidInput("NIfTI volumes to write must be 3-D or 4-D with sides 1–32767, got shape \(shape)")
        }
        guard affine.count == 4, affine.allSatisfy({ $0.count == 4 }), affine.joined().allSatisfy({ $0.isFinite }) else {
            throw BERGError.invalidInput("A NIfTI affine must be a finite 4×4 matrix")
        }
        var header = [UInt8](repeating: 0, count: 352)
        func put16(_ v: Int, _ o: Int) { withUnsafeBytes(of: Int16(v).littleEndian) { header.replaceSubrange(o..<o + 2, with: $0) } }
        func put32(_ v: Int32, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { header.replaceSubrange(o..<o + 4, with: $0) } }
        func putF(_ v: Float, _ o: Int) { put32(Int32(bitPattern: v.bitPattern), o) }
        put32(348, 0)
        put16(shape.count, 40)
        for (d, n) in shape.enumerated() { put16(n, 42 + 2 * d) }
        for d in shape.count..<7 { put16(1, 42 + 2 * d) }
        put16(16, 70) // float32
        put16(32, 72)
        putF(1, 76) // qfac
        for d in 0..<3 {
            let norm = (0..<3).map { affine[$0][d] * affine[$0][d] }.reduce(0, +).squareRoot()
            putF(Float(norm), 80 + 4 * d)
        }
        for d in 3..<7 { putF(d == 3 ? Float(timeStep ?? 1) : 1, 80 + 4 * d) }
        putF(352, 108)
        putF(1, 112) // scl_slope
        header[123] = 2 | 8 // mm, seconds
        put16(0, 252) // qform_code: unknown
        put16(sformCode, 254) // sform_code: 2 aligned, 4 MNI-152
        for r in 0..<3 { for c in 0..<4 { putF(Float(affine[r][c]), 280 + 16 * r + 4 * c) } }
        header.replaceSubrange(344..<348, with: [0x6E, 0x2B, 0x31, 0])
        return header
    }
}
