/// The element types that model files carry. Compute works in `float32`; the others are kept
/// as read so that nothing is lost before a caller converts.
public enum DType: String, Sendable, CaseIterable, Codable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// Bytes per element in a file.
    public var byteWidth: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// A dense n-d array in C (row-major) order.
public struct Tensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
        case int64([Int64])
        case int32([Int32])
        case int16([Int16])
        case int8([Int8])
        case uint8([UInt8])
        case bool([Bool])
    }

    public var shape: [Int]
    public var storage: Storage

    /// Fails with `shapeMismatch` when the shape's element count differs from the storage's,
    /// or when a dimension is negative.
    public init(shape: [Int], storage: Storage) throws {
        self.shape = shape
        self.storage = storage
        guard shape.allSatisfy({ $0 >= 0 }), Tensor.count(of: shape) == storageCount else {
            throw BERGError.shapeMismatch(what: "tensor elements", expected: shape, actual: [storageCount])
        }
    }

    public init(shape: [Int], floats: [Float]) throws { try self.init(shape: shape, storage: .float32(floats)) }
    public init(shape: [Int], doubles: [Double]) throws { try self.init(shape: shape, storage: .float64(doubles)) }
    public init(shape: [Int], bytes: [UInt8]) throws { try self.init(shape: shape, storage: .uint8(bytes)) }
    public init(shape: [Int], int64s: [Int64]) throws { try self.init(shape: shape, storage: .int64(int64s)) }

    /// A float32 tensor of zeros.
    public static func zeros(_ shape: [Int]) throws -> Tensor {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw BERGError.shapeMismatch(what: "tensor of zeros (negative dimension)", expected: shape.map { max($0, 0) }, actual: shape)
        }
        return Tensor(checked: shape, storage: .float32([Float](repeating: 0, count: count(of: shape))))
    }

    /// For conversions that keep the element count (and a `Stimulus`, checked when made), so the
    /// shape is valid by construction.
    init(checked shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { Tensor.count(of: shape) }
    public var rank: Int { shape.count }

    public var dtype: DType {
        switch storage {
        case .float32: return .float32
        case .float64: return .float64
        case .int64: return .int64
        case .int32: return .int32
        case .int16: return .int16
        case .int8: return .int8
        case .uint8: return .uint8
        case .bool: return .bool
        }
    }

    private var storageCount: Int {
        switch storage {
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .int64(let a): return a.count
        case .int32(let a): return a.count
        case .int16(let a): return a.count
        case .int8(let a): return a.count
        case .uint8(let a): return a.count
        case .bool(let a): return a.count
        }
    }

    /// The elements as Float32, converting where the storage is another type.
    public var floats: [Float] {
        switch storage {
        case .float32(let a): return a
        case .float64(let a): return a.map { Float($0) }
        case .int64(let a): return a.map { Float($0) }
        case .int32(let a): return a.map { Float($0) }
        case .int16(let a): return a.map { Float($0) }
        case .int8(let a): return a.map { Float($0) }
        case .uint8(let a): return a.map { Float($0) }
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// The elements as Float64, converting where the storage is another type.
    public var doubles: [Double] {
        switch storage {
        case .float64(let a): return a
        case .float32(let a): return a.map { Double($0) }
        default: return floats.map { Double($0) }
        }
    }

    /// The elements as Int64 (floats are truncated toward zero).
    public var int64s: [Int64] {
        switch storage {
        case .int64(let a): return a
        case .int32(let a): return a.map { Int64($0) }
        case .int16(let a): return a.map { Int64($0) }
        case .int8(let a): return a.map { Int64($0) }
        case .uint8(let a): return a.map { Int64($0) }
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        case .float32(let a): return a.map { Int64($0) }
        case .float64(let a): return a.map { Int64($0) }
        }
    }

    /// The same tensor converted to float32 storage.
    public var asFloat32: Tensor { Tensor(checked: shape, storage: .float32(floats)) }

    /// The same elements under another shape with the same count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard Tensor.count(of: newShape) == count else {
            throw BERGError.shapeMismatch(what: "reshape", expected: newShape, actual: shape)
        }
        return try Tensor(shape: newShape, storage: storage)
    }

    /// A scalar's value, for 0-d or one-element tensors.
    public var scalar: Double? { count == 1 ? doubles.first : nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(dtype.rawValue), shape: \(shape))" }
}
