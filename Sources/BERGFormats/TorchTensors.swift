import BERGCore
import Foundation

/// PyTorch storages and the strided tensor views that checkpoints build on them.
enum TorchTensors {
    /// The element type of a storage class (`torch.FloatStorage`) or dtype (`torch.float32`).
    static func dtype(forStorageName name: String) -> DType? {
        switch name {
        case "FloatStorage", "float32", "float": return .float32
        case "DoubleStorage", "float64", "double": return .float64
        case "HalfStorage", "float16", "half": return .float16
        case "BFloat16Storage", "bfloat16": return .bfloat16
        case "LongStorage", "int64", "long": return .int64
        case "IntStorage", "int32", "int": return .int32
        case "ShortStorage", "int16", "short": return .int16
        case "CharStorage", "int8": return .int8
        case "ByteStorage", "uint8", "UntypedStorage": return .uint8
        case "BoolStorage", "bool": return .bool
        default: return nil
        }
    }

    /// The element type `_rebuild_tensor_v3` names; unsigned types wider than a byte are read
    /// as the signed type of their width and then widened (`widenedUnsigned`).
    static func dtype(forV3Name name: String) -> (DType, unsigned: Bool)? {
        switch name {
        case "uint16": return (.int16, true)
        case "uint32": return (.int32, true)
        case "uint64": return (.int64, true)
        default: return dtype(forStorageName: name).map { ($0, false) }
        }
    }

    /// Signed storage reinterpreted as unsigned, widened to int64 (uint64 above 2^63 wraps).
    static func widenedUnsigned(_ t: Tensor) throws -> Tensor {
        switch t.storage {
        case .int16(let a): return try Tensor(shape: t.shape, storage: .int64(a.map { Int64(UInt16(bitPattern: $0)) }))
        case .int32(let a): return try Tensor(shape: t.shape, storage: .int64(a.map { Int64(UInt32(bitPattern: $0)) }))
        default: return t
        }
    }

    /// The tensor `storage.as_strided(size, stride, offset)`, copied into its own C-order array.
    /// Contiguous views are one bulk copy; others gather element by element.
    static func view(of storage: TorchStorage, offset: Int, size: [Int], stride: [Int], path: String,
                     limits: PickleLimits) throws -> Tensor {
        guard size.count == stride.count else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "tensor size \(size) and stride \(stride) differ in rank")
        }
        guard offset >= 0, stride.allSatisfy({ $0 >= 0 }) else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "tensor with negative offset \(offset) or stride \(stride)")
        }
        let count = try NumpyArrays.checkedCount(size, path: path, limit: limits.maxArrayElements)
        let width = storage.dtype.byteWidth
        if count == 0 {
            return try RawArray.tensor(from: Data(), dtype: storage.dtype, bigEndian: false, shape: size)
        }
        // The last element the view touches must lie inside the storage.
        var last = offset
        for (n, s) in zip(size, stride) {
            let (span, o1) = (n - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(span)
            guard !o1, !o2 else { throw BERGError.corruptFile(path: path, offset: nil, message: "tensor view \(size)/\(stride) overflows") }
            last = sum
        }
        guard last < storage.count else {
            throw BERGError.corruptFile(path: path, offset: nil,
                                        message: "tensor view (offset \(offset), size \(size), stride \(stride)) reaches element \(last) of a storage '\(storage.key)' with \(storage.count)")
        }
        var contiguous = true
        var expected = 1
        for d in stride.indices.reversed() where size[d] != 1 {
            if stride[d] != expected { contiguous = false; break }
            expected *= size[d]
        }
        let start = storage.data.startIndex + offset * width
        if contiguous {
            return try RawArray.tensor(from: storage.data[start ..< start + count * width], dtype: storage.dtype,
                                       bigEndian: storage.bigEndian, shape: size)
        }
        var gathered = Data(count: count * width)
        gathered.withUnsafeMutableBytes { dst in
            storage.data.withUnsafeBytes { src in
                var index = [Int](repeating: 0, count: size.count)
                var source = offset
                for i in 0..<count {
                    (dst.baseAddress! + i * width).copyMemory(from: src.baseAddress! + source * width, byteCount: width)
                    var d = size.count - 1
                    while d >= 0 {
                        index[d] += 1
                        source += stride[d]
                        if index[d] < size[d] { break }
                        source -= stride[d] * size[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return try RawArray.tensor(from: gathered, dtype: storage.dtype, bigEndian: storage.bigEndian, shape: size)
    }
}
