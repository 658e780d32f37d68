import BERGCore
import Foundation

/// A pickle virtual machine (protocols 0–5) that builds inert values and never imports,
/// calls or evaluates anything. A short allowlist of reconstructors (NumPy arrays, dtypes and
/// scalars, `OrderedDict`, `_codecs.encode`, PyTorch tensors and parameters) turns known
/// patterns into real values; every other class becomes an inert `PickleValue.object`.
public struct PickleMachine {
    /// Reads one pickle from the start of `data`.
    /// - Parameters:
    ///   - path: named in errors.
    ///   - persistentLoad: turns a persistent id (PyTorch's storage tuples) into a value;
    ///     without it, ids stay `.persistentID`.
    public static func load(_ data: Data, path: String,
                            persistentLoad: ((PickleValue) throws -> PickleValue)? = nil,
                            limits: PickleLimits = .default) throws -> PickleValue {
        try load(data, from: 0, path: path, persistentLoad: persistentLoad, limits: limits).value
    }

    /// Reads one pickle starting at byte `offset`; also returns the offset just past its STOP.
    public static func load(_ data: Data, from offset: Int, path: String,
                            persistentLoad: ((PickleValue) throws -> PickleValue)? = nil,
                            limits: PickleLimits = .default) throws -> (value: PickleValue, end: Int) {
        try load(data, from: offset, path: path, persistentLoad: persistentLoad, limits: limits, arraysIn: nil)
    }

    /// Reads one pickle from a mapped file, starting at byte `offset`, leaving the raw bytes of
    /// its numeric NumPy arrays (the BINBYTES/BINBYTES8 payloads of `_reconstruct` states) in
    /// the mapping: each such array becomes `.arrayInFile`, nothing is copied.
    public static func load(keepingArraysIn file: MappedFile, from offset: Int = 0,
                            limits: PickleLimits = .default) throws -> (value: PickleValue, end: Int) {
        try load(file.data, from: offset, path: file.path, persistentLoad: nil, limits: limits, arraysIn: file)
    }

    private static func load(_ data: Data, from offset: Int, path: String,
                             persistentLoad: ((PickleValue) throws -> PickleValue)?,
                             limits: PickleLimits, arraysIn file: MappedFile?) throws -> (value: PickleValue, end: Int) {
        guard offset >= 0, offset <= data.count else {
            throw BERGError.corruptFile(path: path, offset: offset, message: "pickle starts past the end of the data")
        }
        return try data.withUnsafeBytes { raw in
            let vm = Unpickler(data: data, raw: raw, position: offset, path: path,
                               persistentLoad: persistentLoad, limits: limits, arraysIn: file)
            let value = try vm.run()
            return (value, vm.position)
        }
    }
}

// MARK: - Machine state

/// A value on the stack or in the memo. Containers are reference nodes, because pickles fill a
/// list or dict after memoizing it and a later GET must see the filled container.
enum Item {
    case value(PickleValue)
    case node(Node)
}

final class Node {
    enum Kind {
        case list([Item])
        case tuple([Item])
        case dict([(Item, Item)])
        case set([Item], frozen: Bool)
        case object(ObjectParts)
        /// `numpy..._reconstruct(ndarray, ...)` waiting for its BUILD state.
        case pendingArray(ObjectParts)
        /// `numpy.dtype(code, ...)` waiting for its BUILD state.
        case pendingDType(code: String, parts: ObjectParts)
        /// Something already turned into a plain value (an array after BUILD).
        case resolved(PickleValue)
    }
    var kind: Kind
    init(_ kind: Kind) { self.kind = kind }

    /// Releases children iteratively: dropping a chain of 100,000 nested lists the usual way
    /// would recurse once per level and overflow the stack.
    deinit {
        var work = Node.children(of: kind)
        kind = .resolved(.none)
        while !work.isEmpty {
            var node = work.removeLast()
            if isKnownUniquelyReferenced(&node) {
                work.append(contentsOf: Node.children(of: node.kind))
                node.kind = .resolved(.none)
            }
        }
    }

    private static func children(of kind: Kind) -> [Node] {
        var out: [Node] = []
        func add(_ item: Item?) { if case .node(let n)? = item { out.append(n) } }
        switch kind {
        case .list(let a), .tuple(let a), .set(let a, _): a.forEach(add)
        case .dict(let pairs): pairs.forEach { add($0.0); add($0.1) }
        case .object(let p), .pendingArray(let p), .pendingDType(_, let p):
            add(p.args); add(p.kwargs); add(p.state)
            p.listItems.forEach(add)
            p.dictItems.forEach { add($0.0); add($0.1) }
        case .resolved: break
        }
        return out
    }
}

struct ObjectParts {
    var module: String
    var name: String
    var args: Item?
    var kwargs: Item?
    var state: Item?
    var listItems: [Item] = []
    var dictItems: [(Item, Item)] = []
}
