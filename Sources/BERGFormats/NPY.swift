import BERGCore
import Foundation

/// NumPy's `.npy` format, versions 1–3, for arrays of plain dtypes. Object arrays (a pickled
/// payload, `descr` `|O`) are handed to the pickle reader by `NPYFile.readObject`.
public enum NPYFile {
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// The parsed header: dtype descriptor, order and shape, and where the data starts.
    public struct Header: Sendable, Equatable {
        public var descr: String
        public var fortranOrder: Bool
        public var shape: [Int]
        public var dataOffset: Int
    }

    public static func read(_ path: String) throws -> Tensor {
        let data = try readFile(path)
        return try decode(data, path: path)
    }

    public static func readFile(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw BERGError.fileNotFound(path: path, hint: nil) }
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) }
        catch { throw BERGError.corruptFile(path: path, offset: nil, message: "cannot read: \(error.localizedDescription)") }
    }

    public static func parseHeader(_ data: Data, path: String) throws -> Header {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw BERGError.corruptFile(path: path, offset: 0, message: "not a NumPy .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw BERGError.corruptFile(path: path, offset: 8, message: "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw BERGError.corruptFile(path: path, offset: 6, message: ".npy version \(major) is not supported (1–3 are)")
        }
        guard data.count >= start + headerLength else {
            throw BERGError.corruptFile(path: path, offset: start, message: "truncated .npy header: needs \(headerLength) bytes")
        }
        let headerBytes = data[data.startIndex + start ..< data.startIndex + start + headerLength]
        guard let text = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw BERGError.corruptFile(path: path, offset: start, message: "unreadable .npy header")
        }
        func field(_ key: String) -> Substring? {
            guard let r = text.range(of: "'\(key)':") else { return nil }
            return text[r.upperBound...].drop(while: { $0 == " " })
        }
        guard let descrField = field("descr"), descrField.first == "'",
              let descrEnd = descrField.dropFirst().firstIndex(of: "'") else {
            throw BERGError.corruptFile(path: path, offset: start, message: ".npy header has no 'descr'")
        }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<descrEnd])
        let fortran = field("fortran_order")?.hasPrefix("True") ?? false
        guard let shapeField = field("shape"), shapeField.first == "(", let close = shapeField.firstIndex(of: ")") else {
            throw BERGError.corruptFile(path: path, offset: start, message: ".npy header has no 'shape'")
        }
        var shape: [Int] = []
        for part in shapeField[shapeField.index(after: shapeField.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else {
                throw BERGError.corruptFile(path: path, offset: start, message: ".npy shape has a bad dimension '\(trimmed)'")
            }
            shape.append(n)
        }
        return Header(descr: descr, fortranOrder: fortran, shape: shape, dataOffset: start + headerLength)
    }

    /// Decodes a plain-dtype array. Fortran-ordered arrays are transposed into C order; unsigned
    /// types wider than a byte are widened to int64.
    public static func decode(_ data: Data, path: String) throws -> Tensor {
        let header = try parseHeader(data, path: path)
        guard case .tensor(let tensor)? = try decodeValue(data, header: header, path: path) else {
            let what = header.holdsObjects ? "pickled Python objects (dtype '|O')" : "dtype '\(header.descr)'"
            throw BERGError.unexpectedContent(path: path, message: "holds \(what), not a numeric array (float, int, uint or bool); save the numbers with np.save(path, array) on a plain-dtype array")
        }
        return tensor
    }

    /// The array's data decoded by dtype: a tensor, an object array of strings, or nil for
    /// dtypes BERG does not read (object arrays go through `readObject`).
    static func decodeValue(_ data: Data, header: Header, path: String) throws -> PickleValue? {
        guard NumpyArrays.parse(header.descr)?.kind != "O" else { return nil }
        let count = try checkedCount(header.shape, path: path)
        guard let (_, kind, size) = NumpyArrays.parse(header.descr) else { return nil }
        let width = kind == "U" ? size * 4 : size
        let needed = count.multipliedReportingOverflow(by: width)
        guard !needed.overflow, data.count - header.dataOffset >= needed.partialValue else {
            throw BERGError.corruptFile(path: path, offset: header.dataOffset,
                                        message: "truncated .npy data: shape \(header.shape) of \(header.descr) needs \(needed.partialValue) bytes, file has \(data.count - header.dataOffset)")
        }
        let raw = data[data.startIndex + header.dataOffset ..< data.startIndex + header.dataOffset + needed.partialValue]
        return try NumpyArrays.decode(raw: raw, descr: header.descr, shape: header.shape, fortran: header.fortranOrder, path: path)
    }

    /// Reads an `.npy` of any dtype without executing anything. Object arrays (`|O`, written by
    /// `np.save(path, obj, allow_pickle=True)`) are read through the pickle VM; a 0-d object
    /// array gives its single element, such as the dict BERG keeps its metadata in. Numeric
    /// arrays give `.tensor`.
    public static func readObject(_ path: String, limits: PickleLimits = .default) throws -> PickleValue {
        let data = try readFile(path)
        return try decodeObject(data, path: path, limits: limits)
    }

    public static func decodeObject(_ data: Data, path: String, limits: PickleLimits = .default) throws -> PickleValue {
        let header = try parseHeader(data, path: path)
        if NumpyArrays.parse(header.descr)?.kind != "O" {
            guard let value = try decodeValue(data, header: header, path: path) else {
                throw BERGError.unsupported("\(path): dtype '\(header.descr)' is not supported")
            }
            return value
        }
        let (value, _) = try PickleMachine.load(data, from: header.dataOffset, path: path, limits: limits)
        if case .objectArray(let shape, let elements) = value, shape.isEmpty, elements.count == 1 {
            return elements[0]
        }
        return value
    }

    static func checkedCount(_ shape: [Int], path: String) throws -> Int {
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw BERGError.corruptFile(path: path, offset: nil, message: "array shape \(shape) overflows") }
            count = p
        }
        return count
    }

    /// Maps a NumPy type string such as `<f4` to a dtype and byte order.
    public static func dtype(forDescr descr: String) -> (DType, Bool)? {
        guard descr.count >= 2 else { return nil }
        let order = descr.first!
        let code = String(descr.dropFirst())
        let bigEndian = order == ">"
        let table: [String: DType] = ["f4": .float32, "f8": .float64, "f2": .float16, "i8": .int64, "i4": .int32,
                                      "i2": .int16, "i1": .int8, "u1": .uint8, "b1": .bool]
        guard "<>|=".contains(order), let dtype = table[code] else { return nil }
        return (dtype, bigEndian)
    }

    static func descr(for dtype: DType) -> String {
        switch dtype {
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .float16: return "<f2"
        case .bfloat16: return "<f4" // written as float32, NumPy has no bfloat16
        case .int64: return "<i8"
        case .int32: return "<i4"
        case .int16: return "<i2"
        case .int8: return "|i1"
        case .uint8: return "|u1"
        case .bool: return "|b1"
        }
    }

    /// Encodes a tensor as a version-1 `.npy` (C order, little-endian).
    public static func encode(_ tensor: Tensor) -> Data {
        var out = header(shape: tensor.shape, dtype: tensor.dtype)
        out.append(RawArray.littleEndianBytes(of: tensor))
        return out
    }

    /// The bytes before the data of a version-1 `.npy` of `shape` (C order, little-endian),
    /// padded so that the data starts on a 64-byte boundary, the header ending in a newline.
    public static func header(shape: [Int], dtype: DType) -> Data {
        let shapeText = shape.isEmpty ? "()" : "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        var header = "{'descr': '\(descr(for: dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data(magic + [1, 0])
        let length = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        out.append(contentsOf: Array(header.utf8))
        return out
    }

    /// Writes a tensor to `path` through a temporary file renamed into place.
    public static func write(_ tensor: Tensor, to path: String) throws {
        try AtomicFile.write(encode(tensor), to: path)
    }
}

/// Conversions between raw little/big-endian bytes and tensors.
public enum RawArray {
    /// Decodes `raw` (at least `count(shape) * dtype.byteWidth` bytes). Little-endian data of a
    /// type Tensor stores is one bulk copy; big-endian data is swapped and half floats widened.
    public static func tensor(from raw: Data, dtype: DType, bigEndian: Bool, shape: [Int]) throws -> Tensor {
        let count = Tensor.count(of: shape)
        guard raw.count >= count * dtype.byteWidth else {
            throw BERGError.corruptFile(path: "array", offset: nil, message: "\(raw.count) bytes cannot hold \(count) \(dtype.rawValue) elements")
        }
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            var out = [T](repeating: 0, count: count)
            out.withUnsafeMutableBytes { dst in raw.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src.prefix(dst.count))) } }
            if bigEndian { for i in 0..<count { out[i] = T(bigEndian: out[i]) } }
            return out
        }
        // One pass: bytes go straight into uninitialised array memory, no zero-fill first.
        func copy<T>(_: T.Type, zero: T) -> [T] {
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                raw.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: src.prefix(count * MemoryLayout<T>.stride)))
                }
                initialized = count
            }
        }
        switch dtype {
        case .float32:
            if !bigEndian { return try Tensor(shape: shape, floats: copy(Float.self, zero: 0)) }
            return try Tensor(shape: shape, floats: load(UInt32.self).map { Float(bitPattern: $0) })
        case .float64:
            if !bigEndian { return try Tensor(shape: shape, doubles: copy(Double.self, zero: 0)) }
            return try Tensor(shape: shape, doubles: load(UInt64.self).map { Double(bitPattern: $0) })
        case .float16:
            return try Tensor(shape: shape, floats: load(UInt16.self).map { Float(Float16(bitPattern: $0)) })
        case .bfloat16:
            return try Tensor(shape: shape, floats: load(UInt16.self).map { Float(bitPattern: UInt32($0) << 16) })
        case .int64: return try Tensor(shape: shape, storage: .int64(load(Int64.self)))
        case .int32: return try Tensor(shape: shape, storage: .int32(load(Int32.self)))
        case .int16: return try Tensor(shape: shape, storage: .int16(load(Int16.self)))
        case .int8: return try Tensor(shape: shape, storage: .int8(load(Int8.self)))
        case .uint8: return try Tensor(shape: shape, storage: .uint8(load(UInt8.self)))
        case .bool: return try Tensor(shape: shape, storage: .bool(load(UInt8.self).map { $0 != 0 }))
        }
    }

    public static func littleEndianBytes(of tensor: Tensor) -> Data {
        func bytes<T>(_ a: [T]) -> Data { a.withUnsafeBufferPointer { Data(buffer: $0) } }
        switch tensor.storage {
        case .float32(let a): return bytes(a)
        case .float64(let a): return bytes(a)
        case .int64(let a): return bytes(a)
        case .int32(let a): return bytes(a)
        case .int16(let a): return bytes(a)
        case .int8(let a): return bytes(a)
        case .uint8(let a): return bytes(a)
        case .bool(let a): return Data(a.map { $0 ? 1 : 0 })
        }
    }

    /// Reorders a tensor whose elements are in Fortran (first index fastest) order into C order.
    public static func fortranToC(_ tensor: Tensor) throws -> Tensor {
        let shape = tensor.shape
        let n = tensor.count
        var fStrides = [Int](repeating: 1, count: shape.count)
        for d in 1..<shape.count { fStrides[d] = fStrides[d - 1] * shape[d - 1] }
        func permute<T>(_ a: [T]) -> [T] {
            guard n > 0 else { return a }
            var out = a
            var index = [Int](repeating: 0, count: shape.count)
            for c in 0..<n {
                var f = 0
                for d in 0..<shape.count { f += index[d] * fStrides[d] }
                out[c] = a[f]
                var d = shape.count - 1
                while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
            }
            return out
        }
        switch tensor.storage {
        case .float32(let a): return try Tensor(shape: shape, storage: .float32(permute(a)))
        case .float64(let a): return try Tensor(shape: shape, storage: .float64(permute(a)))
        case .int64(let a): return try Tensor(shape: shape, storage: .int64(permute(a)))
        case .int32(let a): return try Tensor(shape: shape, storage: .int32(permute(a)))
        case .int16(let a): return try Tensor(shape: shape, storage: .int16(permute(a)))
        case .int8(let a): return try Tensor(shape: shape, storage: .int8(permute(a)))
        case .uint8(let a): return try Tensor(shape: shape, storage: .uint8(permute(a)))
        case .bool(let a): return try Tensor(shape: shape, storage: .bool(permute(a)))
        }
    }
}

/// Writes files through a temporary name in the same folder, renamed into place, so that no
/// half-written file is ever left at the destination (see `StagedFile`).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { sink in try data.withUnsafeBytes { try sink($0) } }
    }

    /// Streams a file: `produce` hands its bytes, in order, to the `sink` it is given. If
    /// `produce` or a write throws, the temporary file is removed and nothing appears at `path`.
    public static func write(to path: String,
                             _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let file = try StagedFile(path: path)
        do {
            try produce { try file.write($0) }
            try file.commit()
        } catch {
            file.discard()
            throw error as? BERGError ?? BERGError.writeFailed(path: path, message: error.localizedDescription)
        }
    }
}
