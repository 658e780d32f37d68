import BERGCore
import Foundation

extension PickleValue {
    /// A metadata tree from a pickled value, for BERG's metadata files: dicts become groups,
    /// arrays tensors, scalars scalars, lists of strings string lists, other lists groups keyed
    /// by index, and anything else (inert objects, bytes) a descriptive string. A value that is
    /// not a dict becomes a group holding it under `value`.
    public func toMetadata() -> Metadata {
        if case .group(let g) = metadataValue() { return g }
        return Metadata([("value", metadataValue())])
    }

    /// This value as one metadata entry.
    public func metadataValue() -> MetadataValue {
        switch self {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d): return .double(d)
        case .string(let s): return .string(s)
        case .tensor(let t):
            guard t.shape.isEmpty else { return .tensor(t) }
            switch t.dtype {
            case .bool: return .bool(t.scalar != 0)
            case .float32, .float64, .float16, .bfloat16: return .double(t.scalar ?? .nan)
            default: return .int(Int(t.int64s[0]))
            }
        case .dict(let entries):
            var group = Metadata()
            for (key, value) in entries { group[key.metadataKey] = value.metadataValue() }
            return .group(group)
        case .list(let items), .tuple(let items), .set(let items), .frozenSet(let items):
            return PickleValue.metadataValue(of: items)
        case .objectArray(let shape, let items):
            if shape.isEmpty, items.count == 1 { return items[0].metadataValue() }
            return PickleValue.metadataValue(of: items)
        case .arrayInFile(let a):
            guard let t = try? a.tensor() else { return .string("<\(kindName)>") }
            return PickleValue.tensor(t).metadataValue()
        case .bytes(let d): return .string(String(decoding: d, as: UTF8.self))
        case .object(let o):
            if let attributes = o.attributes { return PickleValue.dict(attributes).metadataValue() }
            return .string("<\(o.className)>")
        default: return .string("<\(kindName)>")
        }
    }

    private var metadataKey: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: return shortDescription
        }
    }

    private static func metadataValue(of items: [PickleValue]) -> MetadataValue {
        let strings = items.compactMap(\.string)
        if !items.isEmpty, strings.count == items.count { return .strings(strings) }
        if !items.isEmpty, items.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
            if let t = try? Tensor(shape: [items.count], int64s: items.map { Int64($0.int ?? 0) }) { return .tensor(t) }
        }
        if !items.isEmpty, items.allSatisfy({ if case .float = $0 { return true }; if case .int = $0 { return true }; return false }) {
            if let t = try? Tensor(shape: [items.count], doubles: items.map { $0.double ?? .nan }) { return .tensor(t) }
        }
        var group = Metadata()
        for (i, item) in items.enumerated() { group[String(i)] = item.metadataValue() }
        return .group(group)
    }
}
