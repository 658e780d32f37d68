import BERGCore
import Foundation

/// A value read from a pickle without executing it. Containers hold plain values; classes the
/// reader does not know stay inert `object`s that callers can inspect but that never run.
public indirect enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: little-endian two's-complement bytes, as pickle stores it.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes(Data)
    case list([PickleValue])
    case tuple([PickleValue])
    /// A dict (or `collections.OrderedDict`) with its keys in file order.
    case dict([(key: PickleValue, value: PickleValue)])
    case set([PickleValue])
    case frozenSet([PickleValue])
    /// A reference to a module-level name, such as `torch.FloatStorage`.
    case global(module: String, name: String)
    /// An instance of a class the reader does not reconstruct.
    case object(PickleObject)
    /// A NumPy array, NumPy scalar (0-d) or PyTorch tensor with a numeric dtype.
    case tensor(Tensor)
    /// A numeric NumPy array left in its mapped file (only when loading with
    /// `PickleMachine.load(keepingArraysIn:)`).
    case arrayInFile(ArrayInFile)
    /// A NumPy array whose elements are Python objects (or strings): C-order elements.
    case objectArray(shape: [Int], elements: [PickleValue])
    /// A NumPy dtype, by its type string such as `<f4`.
    case dtype(String)
    /// A PyTorch storage handed out by a checkpoint's persistent-id loader.
    case storage(TorchStorage)
    /// A persistent id that no loader resolved.
    case persistentID(PickleValue)
    /// A `copyreg` extension code (EXT1/2/4); no registry is consulted.
    case extensionCode(Int)
}

/// An instance of a class the reader keeps inert: the class, the arguments it was created with,
/// the state `BUILD` gave it, and items appended to it.
public struct PickleObject: Sendable {
    public var module: String
    public var name: String
    public var args: PickleValue?
    public var kwargs: PickleValue?
    public var state: PickleValue?
    public var listItems: [PickleValue] = []
    public var dictItems: [(key: PickleValue, value: PickleValue)] = []

    public init(module: String, name: String, args: PickleValue? = nil, kwargs: PickleValue? = nil, state: PickleValue? = nil) {
        self.module = module
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.state = state
    }

    /// `module.name`, such as `argparse.Namespace`.
    public var className: String { module.isEmpty ? name : "\(module).\(name)" }

    /// The attributes of an object whose state is a dict (as `argparse.Namespace` pickles).
    public var attributes: [(key: PickleValue, value: PickleValue)]? {
        if case .dict(let d)? = state { return d }
        // (dict, slots) form
        if case .tuple(let t)? = state, t.count == 2, case .dict(let d) = t[0] { return d }
        return nil
    }
}

extension PickleValue {
    /// The value under a string key of a dict, or an attribute of an inert object.
    public subscript(key: String) -> PickleValue? {
        guard let entries = dictionary ?? objectAttributes else { return nil }
        for (k, v) in entries { if case .string(let s) = k, s == key { return v } }
        return nil
    }

    /// The value under an integer key of a dict, or the element at an index of a list/tuple.
    public subscript(key: Int) -> PickleValue? {
        switch self {
        case .list(let a), .tuple(let a):
            return a.indices.contains(key) ? a[key] : nil
        case .dict(let entries):
            for (k, v) in entries { if k.int == key, !k.isString { return v } }
            return nil
        default:
            return nil
        }
    }

    private var isString: Bool { if case .string = self { return true } else { return false } }

    private var objectAttributes: [(key: PickleValue, value: PickleValue)]? {
        if case .object(let o) = self { return o.attributes }
        return nil
    }

    public var tensor: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// An integer from a Python int or bool, or a one-element integer NumPy array/scalar.
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .tensor(let t) where t.count == 1:
            switch t.dtype {
            case .float32, .float64, .float16, .bfloat16: return nil
            default: return t.int64s.first.map { Int($0) }
            }
        default: return nil
        }
    }

    /// A number from a Python float or int, or a one-element NumPy array/scalar.
    public var double: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .tensor(let t) where t.count == 1: return t.scalar
        default: return nil
        }
    }

    public var bool: Bool? {
        switch self {
        case .bool(let b): return b
        case .tensor(let t) where t.count == 1 && t.dtype == .bool: return t.scalar.map { $0 != 0 }
        default: return nil
        }
    }

    public var dictionary: [(key: PickleValue, value: PickleValue)]? {
        if case .dict(let d) = self { return d }
        return nil
    }

    /// The elements of a list or tuple.
    public var array: [PickleValue]? {
        switch self {
        case .list(let a), .tuple(let a): return a
        default: return nil
        }
    }

    public var object: PickleObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// A short name of the value's kind, for messages and `berg inspect`.
    public var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .set: return "set"
        case .frozenSet: return "frozenset"
        case .global(let m, let n): return "global \(m).\(n)"
        case .object(let o): return "object \(o.className)"
        case .tensor(let t): return "tensor \(t.dtype.rawValue) \(t.shape)"
        case .arrayInFile(let a): return "array \(a.dtype.rawValue) \(a.shape)"
        case .objectArray(let shape, _): return "object array \(shape)"
        case .dtype(let d): return "dtype \(d)"
        case .storage(let s): return "storage \(s.dtype.rawValue)[\(s.count)]"
        case .persistentID: return "persistent id"
        case .extensionCode(let c): return "extension \(c)"
        }
    }

    /// A dict of string keys to tensors, such as a PyTorch `state_dict`.
    /// Throws naming the first entry that is not a tensor (an inert object, say).
    public func stateDict(path: String = "pickle") throws -> [String: Tensor] {
        guard let entries = dictionary else {
            throw BERGError.unexpectedContent(path: path, message: "expected a dict of tensors (a state_dict), found \(kindName)")
        }
        var out: [String: Tensor] = [:]
        for (key, value) in entries {
            guard case .string(let name) = key else {
                throw BERGError.unexpectedContent(path: path, message: "state_dict key \(key.shortDescription) is not a string")
            }
            guard case .tensor(let t) = value else {
                throw BERGError.unexpectedContent(path: path, message: "state_dict entry '\(name)' is \(value.kindName), not a tensor; the file does not hold plain weights there")
            }
            out[name] = t
        }
        return out
    }

    /// The tensor at this value, or an error that names what was found instead.
    public func requireTensor(_ what: String, path: String = "pickle") throws -> Tensor {
        if case .tensor(let t) = self { return t }
        throw BERGError.unexpectedContent(path: path, message: "\(what) is \(kindName), not a numeric array; refusing to use it as weights")
    }

    /// A one-line rendering for messages; long values are cut.
    public var shortDescription: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return "int(\(b.count) bytes)"
        case .float(let d): return String(d)
        case .string(let s): return s.count > 60 ? "'\(s.prefix(57))...'" : "'\(s)'"
        case .bytes(let d): return "bytes(\(d.count))"
        default: return kindName
        }
    }
}

/// A PyTorch storage: raw little-endian bytes of one element type.
public struct TorchStorage: Sendable {
    public var key: String
    public var dtype: DType
    /// Bytes of the storage, `count * dtype.byteWidth` long (may be a slice of a mapped file).
    public var data: Data
    /// True for checkpoints written on a big-endian machine (`byteorder` says `big`).
    public var bigEndian: Bool
    public var count: Int { data.count / dtype.byteWidth }

    public init(key: String, dtype: DType, data: Data, bigEndian: Bool = false) {
        self.key = key
        self.dtype = dtype
        self.data = data
        self.bigEndian = bigEndian
    }
}
