/// One value in a metadata tree.
public indirect enum MetadataValue: Sendable, Equatable {
    case tensor(Tensor)
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case strings([String])
    case group(Metadata)
    case none
}

/// An ordered tree of named arrays and scalars: what a model's metadata file holds, plus what
/// a run adds. Keys keep their insertion order so outputs are stable.
public struct Metadata: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: MetadataValue] = [:]

    public init() {}

    public init(_ entries: [(String, MetadataValue)]) {
        for (key, value) in entries { self[key] = value }
    }

    public subscript(key: String) -> MetadataValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The value at a slash-separated path such as `fmri/roi_mask_volume`.
    public subscript(path path: String) -> MetadataValue? {
        let parts = path.split(separator: "/").map(String.init)
        guard let first = parts.first, var current = values[first] else { return nil }
        for part in parts.dropFirst() {
            guard case .group(let group) = current, let next = group[part] else { return nil }
            current = next
        }
        return current
    }

    public var entries: [(String, MetadataValue)] { keys.map { ($0, values[$0]!) } }
    public var isEmpty: Bool { keys.isEmpty }

    /// A group's entries merged in, overwriting keys that exist.
    public mutating func merge(_ other: Metadata) {
        for (key, value) in other.entries { self[key] = value }
    }

    // Typed look-ups by slash-separated path: nil when the entry is missing or of another kind.

    public func tensor(_ path: String) -> Tensor? {
        if case .tensor(let t)? = self[path: path] { return t }
        return nil
    }
    /// An array's elements as Float32 (converted from its stored type).
    public func floats(_ path: String) -> [Float]? { tensor(path)?.floats }
    public func doubles(_ path: String) -> [Double]? { tensor(path)?.doubles }
    public func int64s(_ path: String) -> [Int64]? { tensor(path)?.int64s }
    public func string(_ path: String) -> String? {
        if case .string(let s)? = self[path: path] { return s }
        return nil
    }
    public func strings(_ path: String) -> [String]? {
        if case .strings(let s)? = self[path: path] { return s }
        return nil
    }
    /// An integer scalar (a one-element integer array counts too).
    public func int(_ path: String) -> Int? {
        switch self[path: path] {
        case .int(let i)?: return i
        case .tensor(let t)? where t.count == 1 && ![.float32, .float64].contains(t.dtype): return Int(t.int64s[0])
        default: return nil
        }
    }
    /// A number (an integer or a one-element array counts too).
    public func double(_ path: String) -> Double? {
        switch self[path: path] {
        case .double(let d)?: return d
        case .int(let i)?: return Double(i)
        case .tensor(let t)? where t.count == 1: return t.doubles[0]
        default: return nil
        }
    }
    public func bool(_ path: String) -> Bool? {
        if case .bool(let b)? = self[path: path] { return b }
        return nil
    }
    public func group(_ path: String) -> Metadata? {
        if case .group(let g)? = self[path: path] { return g }
        return nil
    }
}
