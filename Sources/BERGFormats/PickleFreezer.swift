import BERGCore
import Foundation

// MARK: - Freezing nodes into values

/// Turns the machine's reference nodes into plain values. Shared nodes are frozen once, so a
/// pickle of many references to one container stays linear to read; but the tree those
/// references spell out (what a caller walking the result visits) is counted too, so a few
/// hundred bytes of nested references cannot stand for 10^30 elements. Cycles and over-deep
/// nesting throw.
struct Freezer {
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
