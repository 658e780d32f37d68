import BERGCore
import Foundation

extension Unpickler {
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
}
