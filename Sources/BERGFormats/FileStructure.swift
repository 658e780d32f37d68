import BERGCore
import Foundation

/// What a model file holds, as a tree of named entries with kinds, dtypes and shapes but no
/// bulk data: what `berg inspect` prints. Every reader can describe its files this way.
public struct FileStructure: Sendable, Equatable {
    public var name: String
    /// `dict`, `list`, `tensor`, `int`, `object argparse.Namespace`, `group`, ...
    public var kind: String
    public var dtype: String?
    public var shape: [Int]?
    /// A short rendering of a scalar's value.
    public var value: String?
    public var children: [FileStructure]
    /// Children left out to keep the output short.
    public var omitted: Int

    public init(name: String, kind: String, dtype: String? = nil, shape: [Int]? = nil, value: String? = nil,
                children: [FileStructure] = [], omitted: Int = 0) {
        self.name = name
        self.kind = kind
        self.dtype = dtype
        self.shape = shape
        self.value = value
        self.children = children
        self.omitted = omitted
    }

    /// An indented tree, one entry per line.
    public func text(indent: String = "") -> String {
        var line = indent + (name.isEmpty ? "" : "\(name): ") + kind
        if let dtype { line += " \(dtype)" }
        if let shape { line += " [\(shape.map(String.init).joined(separator: ", "))]" }
        if let value { line += " = \(value)" }
        var lines = [line]
        for child in children { lines.append(child.text(indent: indent + "  ")) }
        if omitted > 0 { lines.append(indent + "  … \(omitted) more") }
        return lines.joined(separator: "\n")
    }

    /// A JSON-ready dictionary (`JSONSerialization`).
    public var jsonObject: [String: Any] {
        var out: [String: Any] = ["name": name, "kind": kind]
        if let dtype { out["dtype"] = dtype }
        if let shape { out["shape"] = shape }
        if let value { out["value"] = value }
        if !children.isEmpty { out["children"] = children.map(\.jsonObject) }
        if omitted > 0 { out["omitted"] = omitted }
        return out
    }
}

extension PickleValue {
    /// The structure of this value. Containers list at most `maxChildren` entries and nesting
    /// stops at `maxDepth`; lists of plain scalars are summarised in one line.
    public func structure(name: String = "", maxChildren: Int = 64, maxDepth: Int = 16) -> FileStructure {
        func child(_ key: String, _ value: PickleValue) -> FileStructure {
            value.structure(name: key, maxChildren: maxChildren, maxDepth: maxDepth - 1)
        }
        func container(_ kind: String, _ items: [(String, PickleValue)]) -> FileStructure {
            guard maxDepth > 0 else { return FileStructure(name: name, kind: kind, omitted: items.count) }
            let shown = items.prefix(maxChildren).map { child($0.0, $0.1) }
            return FileStructure(name: name, kind: kind, children: shown, omitted: items.count - shown.count)
        }
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string:
            return FileStructure(name: name, kind: kindName, value: shortDescription)
        case .bytes(let d):
            return FileStructure(name: name, kind: "bytes", shape: [d.count])
        case .tensor(let t):
            var value: String?
            if t.count == 1 {
                switch t.dtype {
                case .float32, .float64, .float16, .bfloat16: value = t.scalar.map { String($0) }
                case .bool: value = t.scalar == 1 ? "True" : "False"
                default: value = String(t.int64s[0])
                }
            }
            return FileStructure(name: name, kind: "tensor", dtype: t.dtype.rawValue, shape: t.shape, value: value)
        case .dict(let entries):
            return container("dict (\(entries.count) keys)", entries.map { ($0.key.string ?? $0.key.shortDescription, $0.value) })
        case .list(let items), .tuple(let items), .set(let items), .frozenSet(let items):
            let kind = "\(self.kindName) (\(items.count) items)"
            let scalarKinds = Set(items.map(\.kindName))
            if items.count > 8, scalarKinds.count == 1, let only = scalarKinds.first, ["int", "float", "bool", "str"].contains(only) {
                return FileStructure(name: name, kind: kind + " of \(only)")
            }
            return container(kind, items.enumerated().map { (String($0.offset), $0.element) })
        case .objectArray(let shape, let elements):
            if elements.allSatisfy({ $0.string != nil }) {
                return FileStructure(name: name, kind: "string array", shape: shape,
                                     value: elements.prefix(4).map { $0.shortDescription }.joined(separator: ", ") + (elements.count > 4 ? ", …" : ""))
            }
            var node = container("object array", elements.enumerated().map { (String($0.offset), $0.element) })
            node.shape = shape
            return node
        case .object(let o):
            var entries: [(String, PickleValue)] = []
            if let attributes = o.attributes {
                entries = attributes.map { ($0.key.string ?? $0.key.shortDescription, $0.value) }
            } else {
                if let args = o.args { entries.append(("args", args)) }
                if let state = o.state { entries.append(("state", state)) }
            }
            entries += o.listItems.enumerated().map { (String($0.offset), $0.element) }
            entries += o.dictItems.map { ($0.key.string ?? $0.key.shortDescription, $0.value) }
            return container("object \(o.className) (inert)", entries)
        default:
            return FileStructure(name: name, kind: kindName)
        }
    }
}
