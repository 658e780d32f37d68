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
        guard offset >= 0, offset <= data.count else {
            throw BERGError.corruptFile(path: path, offset: offset, message: "pickle starts past the end of the data")
        }
        return try data.withUnsafeBytes { raw in
            let vm = Unpickler(data: data, raw: raw, position: offset, path: path,
                               persistentLoad: persistentLoad, limits: limits)
            let value = try vm.run()
            return (value, vm.position)
        }
    }
}

// MARK: - Machine state

/// A value on the stack or in the memo. Containers are reference nodes, because pickles fill a
/// list or dict after memoizing it and a later GET must see the filled container.
private enum Item {
    case value(PickleValue)
    case node(Node)
}

private final class Node {
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

private struct ObjectParts {
    var module: String
    var name: String
    var args: Item?
    var kwargs: Item?
    var state: Item?
    var listItems: [Item] = []
    var dictItems: [(Item, Item)] = []
}

private final class Unpickler {
    let data: Data
    let raw: UnsafeRawBufferPointer
    var position: Int
    let path: String
    let persistentLoad: ((PickleValue) throws -> PickleValue)?
    let limits: PickleLimits

    var stack: [Item] = []
    var marks: [Int] = []
    var memo: [Int: Item] = [:]
    var elements = 0
    var opcodeStart = 0

    init(data: Data, raw: UnsafeRawBufferPointer, position: Int, path: String,
         persistentLoad: ((PickleValue) throws -> PickleValue)?, limits: PickleLimits) {
        self.data = data
        self.raw = raw
        self.position = position
        self.path = path
        self.persistentLoad = persistentLoad
        self.limits = limits
    }

    // MARK: Errors

    func corrupt(_ message: String) -> BERGError {
        BERGError.corruptFile(path: path, offset: opcodeStart, message: "pickle: \(message)")
    }

    // MARK: Reading bytes

    var remaining: Int { raw.count - position }

    func byte() throws -> UInt8 {
        guard position < raw.count else { throw corrupt("truncated: data ends inside an opcode") }
        defer { position += 1 }
        return raw[position]
    }

    /// The range of the next `count` bytes, checked against what is left before any use.
    func take(_ count: Int) throws -> Range<Int> {
        guard count >= 0 else { throw corrupt("negative length \(count)") }
        guard count <= remaining else {
            throw corrupt("truncated: declares \(count) bytes, only \(remaining) left")
        }
        defer { position += count }
        return position ..< position + count
    }

    func uint(_ width: Int) throws -> UInt64 {
        let r = try take(width)
        var v: UInt64 = 0
        for (i, idx) in r.enumerated() { v |= UInt64(raw[idx]) << (8 * UInt64(i)) }
        return v
    }

    func length(_ width: Int) throws -> Int {
        let v = try uint(width)
        guard v <= UInt64(remaining) else {
            throw corrupt("truncated: declares \(v) bytes, only \(remaining) left")
        }
        return Int(v)
    }

    /// A newline-terminated text argument (protocol 0), as UTF-8 or, for UNICODE, Latin-1.
    func line(latin1: Bool = false) throws -> String {
        var end = position
        while end < raw.count && raw[end] != 0x0A { end += 1 }
        guard end < raw.count else { throw corrupt("truncated: text argument has no newline") }
        let text = latin1 ? self.latin1(position..<end)
                          : String(decoding: UnsafeRawBufferPointer(rebasing: raw[position..<end]), as: UTF8.self)
        position = end + 1
        return text.hasSuffix("\r") ? String(text.dropLast()) : text
    }

    func utf8(_ r: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[r]), as: UTF8.self)
    }

    func latin1(_ r: Range<Int>) -> String {
        String(String.UnicodeScalarView(raw[r].map { Unicode.Scalar($0) }))
    }

    func slice(_ r: Range<Int>) -> Data {
        data[data.startIndex + r.lowerBound ..< data.startIndex + r.upperBound]
    }

    // MARK: Stack

    func push(_ item: Item) throws {
        elements += 1
        guard elements <= limits.maxElements else {
            throw BERGError.limitExceeded(what: "pickle element count in \(path)", limit: limits.maxElements, actual: elements)
        }
        stack.append(item)
    }

    func push(_ value: PickleValue) throws { try push(.value(value)) }

    func pop() throws -> Item {
        guard let last = stack.last, stack.count > (marks.last ?? 0) else { throw corrupt("stack underflow") }
        stack.removeLast()
        return last
    }

    func top() throws -> Item {
        guard let last = stack.last, stack.count > (marks.last ?? 0) else { throw corrupt("stack underflow") }
        return last
    }

    func popMark() throws -> [Item] {
        guard let mark = marks.popLast() else { throw corrupt("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    func count(_ n: Int) throws {
        elements += n
        guard elements <= limits.maxElements else {
            throw BERGError.limitExceeded(what: "pickle element count in \(path)", limit: limits.maxElements, actual: elements)
        }
    }

    func memoPut(_ index: Int, _ item: Item) throws {
        guard index >= 0 else { throw corrupt("negative memo index") }
        if memo[index] == nil && memo.count >= limits.maxMemo {
            throw BERGError.limitExceeded(what: "pickle memo size in \(path)", limit: limits.maxMemo, actual: memo.count + 1)
        }
        memo[index] = item
    }

    func memoGet(_ index: Int) throws -> Item {
        guard let item = memo[index] else { throw corrupt("memo key \(index) was never stored") }
        return item
    }

    // MARK: The loop

    func run() throws -> PickleValue {
        while true {
            opcodeStart = position
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let proto = try byte()
                guard proto <= 5 else { throw corrupt("pickle protocol \(proto) is not supported (0–5 are)") }
            case 0x95: // FRAME: frames are a buffering hint; only check the length is there
                let n = try uint(8)
                guard n <= UInt64(remaining) else { throw corrupt("truncated: frame of \(n) bytes, only \(remaining) left") }
            case UInt8(ascii: "."): // STOP
                let result = try pop()
                var freezer = Freezer(limits: limits, path: path)
                return try freezer.freeze(result, depth: 0)

            // Numbers and constants
            case UInt8(ascii: "N"): try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case UInt8(ascii: "I"):
                let text = try line()
                if text == "01" { try push(.bool(true)) }
                else if text == "00" { try push(.bool(false)) }
                else { try push(try decimalInteger(text)) }
            case UInt8(ascii: "L"):
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                try push(try decimalInteger(text))
            case UInt8(ascii: "J"): try push(.int(Int(Int32(bitPattern: UInt32(try uint(4))))))
            case UInt8(ascii: "K"): try push(.int(Int(try byte())))
            case UInt8(ascii: "M"): try push(.int(Int(try uint(2))))
            case 0x8A: try push(try longInteger(Int(try byte())))
            case 0x8B:
                let n = Int(Int32(bitPattern: UInt32(try uint(4))))
                guard n >= 0 else { throw corrupt("negative LONG4 length") }
                try push(try longInteger(n))
            case UInt8(ascii: "F"):
                let text = try line()
                guard let d = Double(text.trimmingCharacters(in: .whitespaces)) else { throw corrupt("bad float '\(text)'") }
                try push(.float(d))
            case UInt8(ascii: "G"): try push(.float(Double(bitPattern: UInt64(bigEndian: try uint(8)))))

            // Strings and bytes
            case UInt8(ascii: "S"): try push(.string(try quotedString(try line())))
            case UInt8(ascii: "T"): try push(.string(latin1(try take(try length(4)))))
            case UInt8(ascii: "U"): try push(.string(latin1(try take(Int(try byte())))))
            case UInt8(ascii: "V"): try push(.string(try rawUnicodeEscape(try line(latin1: true))))
            case UInt8(ascii: "X"): try push(.string(utf8(try take(try length(4)))))
            case 0x8C: try push(.string(utf8(try take(Int(try byte())))))
            case 0x8D: try push(.string(utf8(try take(try length(8)))))
            case UInt8(ascii: "B"): try push(.bytes(slice(try take(try length(4)))))
            case UInt8(ascii: "C"): try push(.bytes(slice(try take(Int(try byte())))))
            case 0x8E, 0x96: try push(.bytes(slice(try take(try length(8)))))
            case 0x97: throw corrupt("out-of-band buffers (NEXT_BUFFER) are not supported")
            case 0x98: break // READONLY_BUFFER

            // Containers
            case UInt8(ascii: ")"): try push(.node(Node(.tuple([]))))
            case UInt8(ascii: "t"): try push(.node(Node(.tuple(try popMark()))))
            case 0x85: let a = try pop(); try push(.node(Node(.tuple([a]))))
            case 0x86: let b = try pop(); let a = try pop(); try push(.node(Node(.tuple([a, b]))))
            case 0x87: let c = try pop(); let b = try pop(); let a = try pop(); try push(.node(Node(.tuple([a, b, c]))))
            case UInt8(ascii: "]"): try push(.node(Node(.list([]))))
            case UInt8(ascii: "l"): try push(.node(Node(.list(try popMark()))))
            case UInt8(ascii: "}"): try push(.node(Node(.dict([]))))
            case UInt8(ascii: "d"):
                let items = try popMark()
                guard items.count % 2 == 0 else { throw corrupt("DICT with an odd number of items") }
                try push(.node(Node(.dict(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }))))
            case 0x8F: try push(.node(Node(.set([], frozen: false))))
            case 0x91: try push(.node(Node(.set(try popMark(), frozen: true))))
            case UInt8(ascii: "a"):
                let item = try pop()
                try append([item], to: try top())
            case UInt8(ascii: "e"):
                let items = try popMark()
                try append(items, to: try top())
            case 0x90:
                let items = try popMark()
                try append(items, to: try top())
            case UInt8(ascii: "s"):
                let value = try pop()
                let key = try pop()
                try setItems([(key, value)], on: try top())
            case UInt8(ascii: "u"):
                let items = try popMark()
                guard items.count % 2 == 0 else { throw corrupt("SETITEMS with an odd number of items") }
                try setItems(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }, on: try top())

            // Stack manipulation
            case UInt8(ascii: "("): marks.append(stack.count)
            case UInt8(ascii: "0"):
                if stack.count > (marks.last ?? 0) { stack.removeLast() } else if !marks.isEmpty { marks.removeLast() }
                else { throw corrupt("POP on an empty stack") }
            case UInt8(ascii: "1"): _ = try popMark()
            case UInt8(ascii: "2"): try push(try top())

            // Memo
            case UInt8(ascii: "g"):
                guard let i = Int(try line()) else { throw corrupt("bad GET index") }
                try push(try memoGet(i))
            case UInt8(ascii: "h"): try push(try memoGet(Int(try byte())))
            case UInt8(ascii: "j"): try push(try memoGet(Int(try uint(4))))
            case UInt8(ascii: "p"):
                guard let i = Int(try line()) else { throw corrupt("bad PUT index") }
                try memoPut(i, try top())
            case UInt8(ascii: "q"): try memoPut(Int(try byte()), try top())
            case UInt8(ascii: "r"): try memoPut(Int(try uint(4)), try top())
            case 0x94: try memoPut(memo.count, try top())

            // Globals, objects, persistent ids
            case UInt8(ascii: "c"):
                let module = try line()
                let name = try line()
                try push(.global(module: module, name: name))
            case 0x93:
                let name = try pop()
                let module = try pop()
                guard case .value(.string(let n)) = name, case .value(.string(let m)) = module else {
                    throw corrupt("STACK_GLOBAL needs two strings")
                }
                try push(.global(module: m, name: n))
            case 0x82: try push(.extensionCode(Int(try byte())))
            case 0x83: try push(.extensionCode(Int(try uint(2))))
            case 0x84: try push(.extensionCode(Int(Int32(bitPattern: UInt32(try uint(4))))))
            case UInt8(ascii: "R"):
                let args = try pop()
                let callable = try pop()
                try push(try reduce(callable, args))
            case 0x81: // NEWOBJ
                let args = try pop()
                let cls = try pop()
                try push(.node(Node(.object(objectParts(cls, args: args)))))
            case 0x92: // NEWOBJ_EX
                let kwargs = try pop()
                let args = try pop()
                let cls = try pop()
                var parts = objectParts(cls, args: args)
                parts.kwargs = kwargs
                try push(.node(Node(.object(parts))))
            case UInt8(ascii: "i"): // INST
                let module = try line()
                let name = try line()
                let args = try popMark()
                try push(.node(Node(.object(ObjectParts(module: module, name: name, args: .node(Node(.tuple(args))))))))
            case UInt8(ascii: "o"): // OBJ
                let items = try popMark()
                guard let cls = items.first else { throw corrupt("OBJ without a class") }
                try push(.node(Node(.object(objectParts(cls, args: .node(Node(.tuple(Array(items.dropFirst())))))))))
            case UInt8(ascii: "b"):
                let state = try pop()
                try build(try top(), state: state)
            case UInt8(ascii: "P"):
                try push(try persistent(.string(try line())))
            case UInt8(ascii: "Q"):
                var freezer = Freezer(limits: limits, path: path)
                try push(try persistent(try freezer.freeze(try pop(), depth: 0)))
            default:
                throw corrupt(String(format: "unknown opcode 0x%02x", op))
            }
        }
    }

    // MARK: Opcode helpers

    func decimalInteger(_ text: String) throws -> PickleValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let i = Int(t) { return .int(i) }
        guard let big = BigInteger.fromDecimal(t) else { throw corrupt("bad integer '\(text)'") }
        guard big.count <= limits.maxIntegerBytes else {
            throw BERGError.limitExceeded(what: "integer width in \(path)", limit: limits.maxIntegerBytes, actual: big.count)
        }
        return .bigInt(big)
    }

    func longInteger(_ n: Int) throws -> PickleValue {
        guard n <= limits.maxIntegerBytes else {
            throw BERGError.limitExceeded(what: "integer width in \(path)", limit: limits.maxIntegerBytes, actual: n)
        }
        let r = try take(n)
        if n == 0 { return .int(0) }
        if n <= 8 {
            var v: UInt64 = 0
            for (i, idx) in r.enumerated() { v |= UInt64(raw[idx]) << (8 * UInt64(i)) }
            if raw[r.upperBound - 1] & 0x80 != 0 && n < 8 { v |= ~UInt64(0) << (8 * UInt64(n)) }
            return .int(Int(Int64(bitPattern: v)))
        }
        return .bigInt(Array(raw[r]))
    }

    /// Protocol-0 STRING: a Python `repr` of a byte string, kept as Latin-1 text.
    func quotedString(_ text: String) throws -> String {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, let q = bytes.first, q == UInt8(ascii: "'") || q == UInt8(ascii: "\""), bytes.last == q else {
            throw corrupt("STRING argument is not quoted")
        }
        var out: [UInt8] = []
        var i = 1
        let end = bytes.count - 1
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < end {
            let c = bytes[i]
            guard c == UInt8(ascii: "\\"), i + 1 < end else { out.append(c); i += 1; continue }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "x"):
                guard i + 1 < end, let h = hex(bytes[i]), let l = hex(bytes[i + 1]) else { throw corrupt("bad \\x escape in STRING") }
                out.append(h << 4 | l)
                i += 2
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, i < end, (0x30...0x37).contains(bytes[i]) { v = v * 8 + Int(bytes[i] - 0x30); i += 1; n += 1 }
                out.append(UInt8(truncatingIfNeeded: v))
            default: out.append(e)
            }
        }
        return String(String.UnicodeScalarView(out.map { Unicode.Scalar($0) }))
    }

    /// Protocol-0 UNICODE: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes).
    func rawUnicodeEscape(_ text: String) throws -> String {
        var scalars = String.UnicodeScalarView()
        let chars = Array(text.unicodeScalars)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\", i + 1 < chars.count, chars[i + 1] == "u" || chars[i + 1] == "U" {
                let width = chars[i + 1] == "u" ? 4 : 8
                guard i + 2 + width <= chars.count,
                      let v = UInt32(String(String.UnicodeScalarView(chars[(i + 2)..<(i + 2 + width)])), radix: 16),
                      let s = Unicode.Scalar(v) else { throw corrupt("bad escape in UNICODE") }
                scalars.append(s)
                i += 2 + width
            } else {
                scalars.append(chars[i])
                i += 1
            }
        }
        return String(scalars)
    }

    func append(_ items: [Item], to target: Item) throws {
        guard case .node(let node) = target else { throw corrupt("APPEND to a \(describe(target))") }
        try count(items.count)
        switch node.kind {
        case .list(var a):
            node.kind = .list([]) // release the old reference so the append does not copy
            a.append(contentsOf: items)
            node.kind = .list(a)
        case .set(var a, let frozen):
            node.kind = .list([])
            a.append(contentsOf: items)
            node.kind = .set(a, frozen: frozen)
        case .object(var parts):
            parts.listItems.append(contentsOf: items)
            node.kind = .object(parts)
        default:
            throw corrupt("APPEND to a \(describe(target))")
        }
    }

    func setItems(_ pairs: [(Item, Item)], on target: Item) throws {
        guard case .node(let node) = target else { throw corrupt("SETITEM on a \(describe(target))") }
        try count(pairs.count)
        switch node.kind {
        case .dict(var d):
            node.kind = .dict([])
            d.append(contentsOf: pairs)
            node.kind = .dict(d)
        case .object(var parts):
            parts.dictItems.append(contentsOf: pairs)
            node.kind = .object(parts)
        default:
            throw corrupt("SETITEM on a \(describe(target))")
        }
    }

    func describe(_ item: Item) -> String {
        switch item {
        case .value(let v): return v.kindName
        case .node(let n):
            switch n.kind {
            case .list: return "list"
            case .tuple: return "tuple"
            case .dict: return "dict"
            case .set: return "set"
            case .object(let p), .pendingArray(let p), .pendingDType(_, let p): return "object \(p.module).\(p.name)"
            case .resolved(let v): return v.kindName
            }
        }
    }

    func persistent(_ pid: PickleValue) throws -> Item {
        guard let persistentLoad else { return .value(.persistentID(pid)) }
        return .value(try persistentLoad(pid))
    }

    func objectParts(_ cls: Item, args: Item?) -> ObjectParts {
        if case .value(.global(let m, let n)) = cls { return ObjectParts(module: m, name: n, args: args) }
        return ObjectParts(module: "", name: "<\(describe(cls))>", args: args)
    }

    /// A frozen copy of an argument, for reconstructors that need plain values.
    func plain(_ item: Item) throws -> PickleValue {
        var freezer = Freezer(limits: limits, path: path)
        return try freezer.freeze(item, depth: 0)
    }

    // MARK: REDUCE and BUILD: the allowlist

    func reduce(_ callable: Item, _ args: Item) throws -> Item {
        guard case .value(.global(let rawModule, let name)) = callable else {
            return .node(Node(.object(objectParts(callable, args: args))))
        }
        let module = Unpickler.canonicalModule(rawModule)
        let inert = Item.node(Node(.object(ObjectParts(module: rawModule, name: name, args: args))))
        let argItems: [Item]
        if case .node(let n) = args, case .tuple(let a) = n.kind { argItems = a } else { return inert }

        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            let node = Node(.dict([]))
            if let first = argItems.first {
                // OrderedDict([(k, v), ...])
                guard case .node(let listNode) = first, case .list(let pairs) = listNode.kind else { return inert }
                var items: [(Item, Item)] = []
                for pair in pairs {
                    guard case .node(let p) = pair, case .tuple(let kv) = p.kind, kv.count == 2 else { return inert }
                    items.append((kv[0], kv[1]))
                }
                node.kind = .dict(items)
            }
            return .node(node)
        case ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"):
            var items: [Item] = []
            if let first = argItems.first {
                guard case .node(let n) = first else { return inert }
                switch n.kind {
                case .list(let a), .tuple(let a), .set(let a, _): items = a
                default: return inert
                }
            }
            return .node(Node(name == "list" ? .list(items) : .set(items, frozen: name == "frozenset")))
        case ("_codecs", "encode"), ("builtins", "bytearray"), ("builtins", "bytes"):
            let plainArgs = try argItems.map(plain)
            if plainArgs.isEmpty { return .value(.bytes(Data())) }
            if case .bytes(let b) = plainArgs[0] { return .value(.bytes(b)) }
            guard case .string(let s) = plainArgs[0] else { return inert }
            let encoding = plainArgs.count > 1 ? (plainArgs[1].string ?? "") : "utf-8"
            switch encoding.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
            case "latin1", "iso88591", "l1":
                var out = Data(capacity: s.unicodeScalars.count)
                for scalar in s.unicodeScalars {
                    guard scalar.value < 256 else { throw corrupt("_codecs.encode: character U+\(String(scalar.value, radix: 16)) is not Latin-1") }
                    out.append(UInt8(scalar.value))
                }
                return .value(.bytes(out))
            case "utf8":
                return .value(.bytes(Data(s.utf8)))
            default:
                return inert
            }
        case ("copyreg", "_reconstructor"):
            // copyreg._reconstructor(cls, base, state): protocol 0/1 instances.
            guard argItems.count >= 1, case .value(.global(let m, let n)) = argItems[0] else { return inert }
            return .node(Node(.object(ObjectParts(module: m, name: n, args: args))))
        case ("numpy.core.multiarray", "_reconstruct"):
            return .node(Node(.pendingArray(ObjectParts(module: rawModule, name: name, args: args))))
        case ("numpy.core.numeric", "_frombuffer"):
            // Protocol 5: _frombuffer(buffer, dtype, shape, order).
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count == 4, case .bytes(let buffer) = plainArgs[0], case .dtype(let descr) = plainArgs[1],
                  let shape = Unpickler.ints(plainArgs[2]) else { return inert }
            guard let value = try NumpyArrays.decode(raw: buffer, descr: descr, shape: shape, fortran: plainArgs[3].string == "F",
                                                     path: path, limit: limits.maxArrayElements) else { return inert }
            return .value(value)
        case ("numpy", "dtype"):
            guard let code = try argItems.first.map(plain)?.string else { return inert }
            return .node(Node(.pendingDType(code: code, parts: ObjectParts(module: rawModule, name: name, args: args))))
        case ("numpy.core.multiarray", "scalar"):
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count == 2, case .dtype(let descr) = plainArgs[0] else { return inert }
            let rawBytes: Data
            switch plainArgs[1] {
            case .bytes(let b): rawBytes = b
            case .string(let s): rawBytes = Data(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            default:
                if descr.hasSuffix("O") || descr.hasSuffix("O8") { return .value(plainArgs[1]) }
                return inert
            }
            guard let value = try NumpyArrays.decode(raw: rawBytes, descr: descr, shape: [], fortran: false, path: path) else { return inert }
            return .value(value)
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count >= 4, case .storage(let storage) = plainArgs[0],
                  let offset = plainArgs[1].int, let size = Unpickler.ints(plainArgs[2]), let stride = Unpickler.ints(plainArgs[3]) else {
                return inert
            }
            return .value(.tensor(try TorchTensors.view(of: storage, offset: offset, size: size, stride: stride, path: path, limits: limits)))
        case ("torch._utils", "_rebuild_tensor_v3"):
            // (untyped storage, offset, size, stride, requires_grad, hooks, dtype, metadata):
            // dtypes without a typed storage class (uint16, float8, ...) are saved this way.
            let plainArgs = try argItems.map(plain)
            guard plainArgs.count >= 7, case .storage(var storage) = plainArgs[0],
                  let offset = plainArgs[1].int, let size = Unpickler.ints(plainArgs[2]), let stride = Unpickler.ints(plainArgs[3]),
                  case .global("torch", let dtypeName) = plainArgs[6],
                  let (dtype, unsigned) = TorchTensors.dtype(forV3Name: dtypeName) else {
                return inert
            }
            guard storage.data.count % dtype.byteWidth == 0 else { throw corrupt("storage '\(storage.key)' is not a whole number of \(dtypeName) elements") }
            storage.dtype = dtype
            let t = try TorchTensors.view(of: storage, offset: offset, size: size, stride: stride, path: path, limits: limits)
            return .value(.tensor(unsigned ? TorchTensors.widenedUnsigned(t) : t))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = argItems.first else { return inert }
            let data = try plain(first)
            guard case .tensor = data else { return inert }
            return .value(data)
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"):
            // (func, new_type, args, state): apply an allowlisted func to its args.
            guard argItems.count >= 3 else { return inert }
            let inner = try reduce(argItems[0], argItems[2])
            if case .value(.tensor) = inner { return inner }
            return inert
        default:
            return inert
        }
    }

    func build(_ target: Item, state: Item) throws {
        guard case .node(let node) = target else {
            // BUILD on an already-plain value (a tensor): Python would set attributes; nothing to keep.
            return
        }
        switch node.kind {
        case .object(var parts):
            parts.state = state
            node.kind = .object(parts)
        case .pendingArray(var parts):
            parts.state = state
            if let value = try arrayFromState(try plain(state)) {
                node.kind = .resolved(value)
            } else {
                node.kind = .object(ObjectParts(module: "numpy", name: "ndarray", args: parts.args, state: state))
            }
        case .pendingDType(let code, var parts):
            let s = try plain(state)
            parts.state = state
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            if case .tuple(let t) = s, t.count >= 5, let order = t[1].string, case .none = t[3], case .none = t[4] {
                let endian = order == "=" ? "<" : order
                node.kind = .resolved(.dtype(endian + code))
            } else {
                node.kind = .object(parts)
            }
        case .dict:
            break // an OrderedDict's attributes (a state_dict's `_metadata`): not needed
        case .list, .tuple, .set, .resolved:
            break
        }
    }

    /// ndarray state: (version, shape, dtype, is_fortran, rawdata) or without the version.
    func arrayFromState(_ state: PickleValue) throws -> PickleValue? {
        guard case .tuple(var t) = state else { return nil }
        if t.count == 5 { t.removeFirst() }
        guard t.count == 4, let shape = Unpickler.ints(t[0]), case .dtype(let descr) = t[1] else { return nil }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw corrupt("ndarray with a negative dimension \(shape)") }
        let fortran = t[2].bool ?? false
        let count = try NumpyArrays.checkedCount(shape, path: path, limit: limits.maxArrayElements)
        switch t[3] {
        case .bytes(let b):
            return try NumpyArrays.decode(raw: b, descr: descr, shape: shape, fortran: fortran, path: path)
        case .string(let s):
            // Python 2 pickles carry the raw data as a byte string read as Latin-1.
            var b = Data(capacity: s.unicodeScalars.count)
            for scalar in s.unicodeScalars { b.append(UInt8(truncatingIfNeeded: scalar.value)) }
            return try NumpyArrays.decode(raw: b, descr: descr, shape: shape, fortran: fortran, path: path)
        case .list(let elements):
            guard elements.count == count else {
                throw corrupt("object ndarray of shape \(shape) has \(elements.count) elements")
            }
            return .objectArray(shape: shape, elements: elements)
        default:
            return nil
        }
    }

    static func ints(_ v: PickleValue) -> [Int]? {
        guard let a = v.array else { return nil }
        var out: [Int] = []
        for e in a { guard let i = e.int else { return nil }; out.append(i) }
        return out
    }

    /// Python 2 and NumPy 1.x/2.x spell some modules differently; treat them as one.
    static func canonicalModule(_ module: String) -> String {
        switch module {
        case "__builtin__": return "builtins"
        case "copy_reg": return "copyreg"
        case "numpy._core.multiarray": return "numpy.core.multiarray"
        case "numpy._core.numeric": return "numpy.core.numeric"
        default: return module
        }
    }
}

// MARK: - Freezing nodes into values

/// Turns the machine's reference nodes into plain values. Shared nodes are frozen once, so a
/// pickle of many references to one container stays linear to read; but the tree those
/// references spell out (what a caller walking the result visits) is counted too, so a few
/// hundred bytes of nested references cannot stand for 10^30 elements. Cycles and over-deep
/// nesting throw.
private struct Freezer {
    let limits: PickleLimits
    let path: String
    var done: [ObjectIdentifier: (value: PickleValue, size: Int)] = [:]
    var inProgress: Set<ObjectIdentifier> = []

    init(limits: PickleLimits, path: String) {
        self.limits = limits
        self.path = path
    }

    mutating func freeze(_ item: Item, depth: Int) throws -> PickleValue {
        try freezeCounting(item, depth: depth).value
    }

    /// The value and the number of elements in its expanded tree.
    private mutating func freezeCounting(_ item: Item, depth: Int) throws -> (value: PickleValue, size: Int) {
        guard case .node(let node) = item else {
            if case .value(let v) = item { return (v, 1) }
            return (.none, 1)
        }
        guard depth < limits.maxDepth else {
            throw BERGError.limitExceeded(what: "pickle nesting depth in \(path)", limit: limits.maxDepth, actual: depth)
        }
        let id = ObjectIdentifier(node)
        if let known = done[id] { return known }
        guard !inProgress.contains(id) else {
            throw BERGError.unexpectedContent(path: path, message: "pickle holds a container that contains itself; such cycles are not supported")
        }
        inProgress.insert(id)
        defer { inProgress.remove(id) }
        let d = depth + 1
        var size = 1
        func child(_ item: Item) throws -> PickleValue {
            let (v, n) = try freezeCounting(item, depth: d)
            size += n
            guard size <= limits.maxElements else {
                throw BERGError.limitExceeded(what: "expanded pickle element count in \(path)", limit: limits.maxElements, actual: size)
            }
            return v
        }
        let value: PickleValue
        switch node.kind {
        case .list(let a): value = .list(try a.map(child))
        case .tuple(let a): value = .tuple(try a.map(child))
        case .set(let a, let frozen):
            let items = try a.map(child)
            value = frozen ? .frozenSet(items) : .set(items)
        case .dict(let pairs):
            value = .dict(try pairs.map { (key: try child($0.0), value: try child($0.1)) })
        case .object(let p), .pendingArray(let p), .pendingDType(_, let p):
            var o = PickleObject(module: p.module, name: p.name)
            o.args = try p.args.map(child)
            o.kwargs = try p.kwargs.map(child)
            o.state = try p.state.map(child)
            o.listItems = try p.listItems.map(child)
            o.dictItems = try p.dictItems.map { (key: try child($0.0), value: try child($0.1)) }
            value = .object(o)
        case .resolved(let v): value = v
        }
        done[id] = (value, size)
        return (value, size)
    }
}

// MARK: - Wide integers

enum BigInteger {
    /// Little-endian two's-complement bytes of a decimal integer.
    static func fromDecimal(_ text: String) -> [UInt8]? {
        var digits = Substring(text)
        var negative = false
        if digits.first == "-" { negative = true; digits = digits.dropFirst() } else if digits.first == "+" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count < 100_000 else { return nil }
        var magnitude: [UInt8] = [0]
        for ch in digits {
            guard let d = ch.wholeNumberValue, ch.isASCII else { return nil }
            var carry = d
            for i in magnitude.indices {
                let v = Int(magnitude[i]) * 10 + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 { magnitude.append(UInt8(carry & 0xFF)); carry >>= 8 }
        }
        magnitude.append(0) // room for the sign bit
        if negative {
            var carry = 1
            for i in magnitude.indices {
                let v = Int(~magnitude[i]) + carry
                magnitude[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        // The shortest form, as pickle's LONG1 writes it: drop bytes that only repeat the sign.
        while magnitude.count > 1 {
            let last = magnitude[magnitude.count - 1], previous = magnitude[magnitude.count - 2]
            guard (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) else { break }
            magnitude.removeLast()
        }
        return magnitude
    }
}
