import BERGCore
import Foundation

final class Unpickler {
    let data: Data
    let raw: UnsafeRawBufferPointer
    var position: Int
    let path: String
    let persistentLoad: ((PickleValue) throws -> PickleValue)?
    let limits: PickleLimits
    /// When set, numeric arrays stay in this mapped file (`.arrayInFile`) instead of becoming tensors.
    let arraysIn: MappedFile?

    var stack: [Item] = []
    var marks: [Int] = []
    var memo: [Int: Item] = [:]
    var elements = 0
    var opcodeStart = 0

    init(data: Data, raw: UnsafeRawBufferPointer, position: Int, path: String,
         persistentLoad: ((PickleValue) throws -> PickleValue)?, limits: PickleLimits, arraysIn: MappedFile? = nil) {
        self.data = data
        self.raw = raw
        self.position = position
        self.path = path
        self.persistentLoad = persistentLoad
        self.limits = limits
        self.arraysIn = arraysIn
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
}
