import BERGCore
import CBLAS
import Foundation

/// y = x · M[rows]ᵀ for a matrix M [R, K] that stays in its file: a chunk of M at a time is
/// handed to BLAS (straight from the mapping when it is little-endian float32 and aligned,
/// else through a small float32 buffer), and the chunk's pages are given back afterwards, so
/// that a 0.5 GB PCA costs a few MB of resident memory however large it is.
extension ArrayInFile {
    /// Bytes of the file one chunk covers.
    static let chunkBytes = 8 << 20

    /// The matrix's logical shape [R, K] (a 1-D array is one row).
    public var matrixShape: (rows: Int, cols: Int) {
        shape.count == 2 ? (shape[0], shape[1]) : (1, count)
    }

    /// y[n, j] (row stride `ldy`) = Σ_k x[n, k] · M[rows[j], k], for `rows` (all when nil),
    /// with x n rows of K floats (row stride `ldx`). M may be in C order or in Fortran order
    /// (its bytes then are Mᵀ [K, R] in C order, as NumPy pickles a transposed array). The
    /// chunks run along whichever of R and K is longer, so that each byte of M is read once
    /// and x or y only a few times: a PCA [250, 460800] in chunks of features, a readout
    /// [163842, 250] in chunks of outputs.
    ///
    /// Aligned little-endian float32 chunks are read by BLAS in the mapping itself, and their
    /// pages given back every `releaseBytes`; other chunks are read from the file (pread) into
    /// a float32 buffer, which never maps their pages at all.
    public func multiplyTransposed(_ x: UnsafePointer<Float>, n: Int, ldx: Int, rows: [Int]? = nil,
                                   into y: UnsafeMutablePointer<Float>, ldy: Int) {
        multiplyTransposed(x, n: n, ldx: ldx, rows: rows, into: y, ldy: ldy, chunkBytes: ArrayInFile.chunkBytes)
    }

    /// As above, with chunks of about `chunkBytes` of M (tests use small ones).
    func multiplyTransposed(_ x: UnsafePointer<Float>, n: Int, ldx: Int, rows: [Int]?,
                            into y: UnsafeMutablePointer<Float>, ldy: Int, chunkBytes: Int) {
        let (r, k) = matrixShape
        let out = rows?.count ?? r
        guard n > 0, out > 0 else { return }
        guard k > 0 else {
            for i in 0..<n { (y + i * ldy).update(repeating: 0, count: out) }
            return
        }
        let width = dtype.byteWidth
        let transposed = fortranOrder && shape.count == 2
        let alongK = rows == nil && k > r
        let perChunk = max(1, chunkBytes / ((alongK ? r : k) * width))
        let total = alongK ? k : out
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            let direct = dtype == .float32 && !bigEndian && Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0
            var buffer: [Float] = []
            var first = 0, unreleased = 0
            while first < total {
                let last = min(total, first + perChunk), size = last - first
                // y (+)= x · chunkᵀ, the chunk being rows first..<last of the picked rows, or
                // columns first..<last of all rows (accumulated).
                func multiply(_ b: UnsafePointer<Float>, ldb: Int, bTransposed: Bool) {
                    if alongK {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans, Int32(n), Int32(r), Int32(size),
                                    1, x + first, Int32(ldx), b, Int32(ldb), first == 0 ? 0 : 1, y, Int32(ldy))
                    } else {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, bTransposed ? CblasTrans : CblasNoTrans, Int32(n), Int32(size), Int32(k),
                                    1, x, Int32(ldx), b, Int32(ldb), 0, y + first, Int32(ldy))
                    }
                }
                let contiguousRows = rows.map { picked in (first + 1 ..< last).allSatisfy { picked[$0] == picked[$0 - 1] + 1 } } ?? true
                let startRow = rows?[first] ?? first
                if direct && contiguousRows {
                    // C order: M[startRow..., :] or M[:, first...] (ldb K); Fortran: Mᵀ likewise (ldb R).
                    let offset = alongK ? (transposed ? first * r : first) : (transposed ? startRow : startRow * k)
                    multiply((base + offset * width).assumingMemoryBound(to: Float.self), ldb: transposed ? r : k, bTransposed: !transposed)
                    if (last - unreleased) * (alongK ? r : k) * width >= ArrayInFile.releaseBytes || last == total {
                        releaseChunk(alongK: alongK, transposed: transposed, first: unreleased, last: last, rows: rows, r: r, k: k)
                        unreleased = last
                    }
                } else {
                    // Copied to float32 in the file's own layout: lines of M (C order) or of Mᵀ (Fortran).
                    let lines = transposed ? (alongK ? first ..< last : 0 ..< k) : (alongK ? 0 ..< r : first ..< last)
                    let cols = transposed ? (alongK ? r : size) : (alongK ? size : k)
                    if buffer.count < lines.count * cols { buffer = [Float](repeating: 0, count: lines.count * cols) }
                    buffer.withUnsafeMutableBufferPointer { dst in
                        for (i, line) in lines.enumerated() {
                            let target = dst.baseAddress! + i * cols
                            if transposed && !alongK && !contiguousRows {
                                for j in 0..<size { convert(raw, element: line * r + rows![first + j], count: 1, into: target + j) }
                            } else {
                                let element = transposed ? line * r + (alongK ? 0 : startRow)
                                                         : (alongK ? line : (rows?[line] ?? line)) * k + (alongK ? first : 0)
                                read(raw, element: element, count: cols, into: target)
                            }
                        }
                    }
                    buffer.withUnsafeBufferPointer { multiply($0.baseAddress!, ldb: cols, bTransposed: !transposed) }
                    unreleased = last
                }
                first = last
            }
        }
        release(byteRange: 0 ..< bytes.count)
    }

    /// Pages given back at a time while BLAS reads the mapping.
    static let releaseBytes = 32 << 20

    /// `count` elements from element index `element` on, as float32: read from the file with
    /// pread (no page of the mapping is touched), or converted from the mapping.
    func read(_ raw: UnsafeRawBufferPointer, element: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let source = raw.baseAddress! + element * dtype.byteWidth
        if let file, !bigEndian {
            if dtype == .float32, file.read(source, count: count * 4, into: UnsafeMutableRawPointer(out)) { return }
            if dtype == .float64 {
                let doubles = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                    initialized = file.read(source, count: count * 8, into: UnsafeMutableRawPointer(buffer.baseAddress!)) ? count : 0
                }
                if doubles.count == count {
                    for i in 0..<count { out[i] = Float(doubles[i]) }
                    return
                }
            }
        }
        convert(raw, element: element, count: count, into: out)
    }

    /// Gives back the pages of chunks once BLAS has read them. The kernel maps a page's
    /// neighbours along with it (fault-around, 64 KiB), some of them pages of earlier chunks
    /// already given back; so each range reaches back that far, and the caller gives back the
    /// whole array at the end.
    private func releaseChunk(alongK: Bool, transposed: Bool, first: Int, last: Int, rows: [Int]?, r: Int, k: Int) {
        guard file != nil else { return }
        let w = dtype.byteWidth, back = ArrayInFile.faultAround
        func give(_ start: Int, _ end: Int, floor: Int) { release(byteRange: max(floor, start - back) ..< end) }
        if alongK {
            if transposed { give(first * r * w, last * r * w, floor: 0) }
            else { for row in 0..<r { give((row * k + first) * w, (row * k + last) * w, floor: row * k * w) } }
        } else {
            let r0 = rows?[first] ?? first, r1 = (rows?[last - 1] ?? last - 1) + 1
            guard r1 > r0 else { return }
            if transposed { for kk in 0..<k { give((kk * r + r0) * w, (kk * r + r1) * w, floor: kk * r * w) } }
            else { give(r0 * k * w, r1 * k * w, floor: 0) }
        }
    }

    /// How far around a faulting page the kernel maps pages (Linux's fault_around_bytes).
    static let faultAround = 64 << 10

    /// `count` elements from element index `element` on, as float32.
    func convert(_ raw: UnsafeRawBufferPointer, element: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let width = dtype.byteWidth
        let source = raw.baseAddress! + element * width
        switch (dtype, bigEndian) {
        case (.float32, false):
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
        case (.float64, false):
            for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        default:
            // Other types and byte orders: through the general decoder, element by element.
            for i in 0..<count {
                let one = Data(bytes: source + i * width, count: width)
                out[i] = (try? NumpyArrays.decode(raw: one, descr: descr, shape: [], fortran: false, path: "array"))
                    .flatMap { $0?.tensor?.floats.first } ?? .nan
            }
        }
    }

    /// All elements as float32, in C order (small arrays: scalers, intercepts, means).
    public func floats() throws -> [Float] {
        if dtype == .float32 || dtype == .float64, !bigEndian, !fortranOrder || shape.count < 2 {
            var out = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { convert(raw, element: 0, count: count, into: $0.baseAddress!) } }
            return out
        }
        return try tensor().floats
    }
}

extension ArrayInFile {
    /// An array of float32 values in memory (C order), for matrices gathered from a file.
    public init(floats: [Float], shape: [Int]) throws {
        guard let array = try ArrayInFile(descr: "<f4", shape: shape, fortranOrder: false,
                                          bytes: floats.withUnsafeBufferPointer { Data(buffer: $0) }, file: nil, path: "array") else {
            throw BERGError.unsupported("float32 array")
        }
        self = array
    }

    /// Rows `rows` of the matrix [R, K] as float32 [rows.count, K] in C order, whatever the
    /// file's dtype and order.
    public func floats(rows: [Int]) -> [Float] {
        let (r, k) = matrixShape
        var out = [Float](repeating: 0, count: rows.count * k)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dst in
                for (i, row) in rows.enumerated() {
                    if fortranOrder && shape.count == 2 {
                        for j in 0..<k { convert(raw, element: j * r + row, count: 1, into: dst.baseAddress! + i * k + j) }
                    } else {
                        convert(raw, element: row * k, count: k, into: dst.baseAddress! + i * k)
                    }
                }
            }
        }
        return out
    }
}

