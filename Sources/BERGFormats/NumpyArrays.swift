import BERGCore
import Foundation

/// Turns the raw bytes of a NumPy array (from a pickle or an `.npy`) into a value, by dtype
/// string: numeric dtypes become tensors, fixed-width strings (`U`, `S`) become object arrays.
enum NumpyArrays {
    static func checkedCount(_ shape: [Int], path: String, limit: Int) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw BERGError.corruptFile(path: path, offset: nil, message: "array shape \(shape) has a negative dimension") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw BERGError.corruptFile(path: path, offset: nil, message: "array shape \(shape) overflows") }
            count = p
        }
        guard count <= limit else {
            throw BERGError.limitExceeded(what: "array element count in \(path)", limit: limit, actual: count)
        }
        return count
    }

    /// Splits `<f4` into its byte order ("<", ">", "|", "="), kind letter and item size.
    static func parse(_ descr: String) -> (order: Character, kind: Character, size: Int)? {
        var s = Substring(descr)
        var order: Character = "="
        if let f = s.first, "<>|=".contains(f) { order = f; s = s.dropFirst() }
        guard let kind = s.first else { return nil }
        let rest = s.dropFirst()
        let size = rest.isEmpty ? (kind == "O" ? 8 : kind == "b" || kind == "?" ? 1 : 0) : (Int(rest) ?? -1)
        guard size >= 0, size <= 1 << 32 else { return nil } // item sizes past 4 GB are not real dtypes
        return (order, kind, size)
    }

    /// The value an array of `descr` holding `raw` decodes to; nil for dtypes we do not read
    /// (complex, structured, datetime, object). Throws when the byte count does not fit the shape.
    static func decode(raw: Data, descr: String, shape: [Int], fortran: Bool, path: String,
                       limit: Int = PickleLimits.default.maxArrayElements) throws -> PickleValue? {
        guard let (order, kind, size) = parse(descr) else { return nil }
        let bigEndian = order == ">"
        let count = try checkedCount(shape, path: path, limit: limit)
        func checkBytes(_ itemSize: Int) throws {
            let (needed, o) = count.multipliedReportingOverflow(by: itemSize)
            guard !o, raw.count == needed else {
                throw BERGError.corruptFile(path: path, offset: nil,
                                            message: "array of shape \(shape) and dtype \(descr) needs \(needed) bytes, has \(raw.count)")
            }
        }
        let numeric: DType?
        switch (kind, size) {
        case ("f", 2): numeric = .float16
        case ("f", 4): numeric = .float32
        case ("f", 8): numeric = .float64
        case ("i", 1): numeric = .int8
        case ("i", 2): numeric = .int16
        case ("i", 4): numeric = .int32
        case ("i", 8): numeric = .int64
        case ("u", 1): numeric = .uint8
        case ("b", 1), ("?", 1): numeric = .bool
        case ("u", 2), ("u", 4), ("u", 8):
            // Unsigned wider than a byte: widened to int64 (values over 2^63 wrap).
            try checkBytes(size)
            var values = [Int64](repeating: 0, count: count)
            raw.withUnsafeBytes { src in
                for i in 0..<count {
                    var v: UInt64 = 0
                    for b in 0..<size {
                        let byte = UInt64(src[i * size + (bigEndian ? size - 1 - b : b)])
                        v |= byte << (8 * UInt64(b))
                    }
                    values[i] = Int64(bitPattern: v)
                }
            }
            return .tensor(try arranged(try Tensor(shape: shape, storage: .int64(values)), fortran: fortran))
        case ("U", _):
            try checkBytes(size * 4)
            var strings: [PickleValue] = []
            strings.reserveCapacity(count)
            raw.withUnsafeBytes { src in
                for i in 0..<count {
                    var scalars = String.UnicodeScalarView()
                    for c in 0..<size {
                        let at = (i * size + c) * 4
                        var v: UInt32 = 0
                        for b in 0..<4 { v |= UInt32(src[at + (bigEndian ? 3 - b : b)]) << (8 * UInt32(b)) }
                        if v == 0 { break }
                        scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                    }
                    strings.append(.string(String(scalars)))
                }
            }
            return .objectArray(shape: shape, elements: try orderElements(strings, shape: shape, fortran: fortran))
        case ("S", _):
            try checkBytes(size)
            var items: [PickleValue] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                var item = raw[raw.startIndex + i * size ..< raw.startIndex + (i + 1) * size]
                while let last = item.last, last == 0 { item = item.dropLast() }
                items.append(.bytes(Data(item)))
            }
            return .objectArray(shape: shape, elements: try orderElements(items, shape: shape, fortran: fortran))
        default:
            numeric = nil
        }
        guard let dtype = numeric else { return nil }
        try checkBytes(dtype.byteWidth)
        let tensor = try RawArray.tensor(from: raw, dtype: dtype, bigEndian: bigEndian, shape: shape)
        return .tensor(try arranged(tensor, fortran: fortran))
    }

    private static func arranged(_ t: Tensor, fortran: Bool) throws -> Tensor {
        fortran && t.shape.count > 1 ? try RawArray.fortranToC(t) : t
    }

    private static func orderElements(_ items: [PickleValue], shape: [Int], fortran: Bool) throws -> [PickleValue] {
        guard fortran, shape.count > 1 else { return items }
        // Permute indices with the same routine numeric arrays use.
        let index = try Tensor(shape: shape, storage: .int64((0..<Int64(items.count)).map { $0 }))
        return try RawArray.fortranToC(index).int64s.map { items[Int($0)] }
    }
}
