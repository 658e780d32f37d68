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

    public func tensor(_ path: String) -> Tensor? {
        if case .tensor(let t)? = self[path: path] { return t }
        return nil
    }
}
