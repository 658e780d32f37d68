import BERGCore
import Foundation

/// Shard K of N (1-based): the K-th of N contiguous parts of an input list, as
/// `berg encode --shard K/N` spells it. The parts differ in size by at most one image, the
/// larger ones first (NumPy's `array_split`), so that N shards of M images cover them all, in
/// order, whatever M is.
public struct Shard: Hashable, Sendable, Codable, CustomStringConvertible {
    /// 1...count.
    public let index: Int
    public let count: Int

    public init(_ index: Int, of count: Int) throws {
        guard count >= 1, (1...count).contains(index) else {
            throw BERGError.invalidArgument(name: "shard", value: "\(index)/\(count)",
                                            message: "K/N needs 1 ≤ K ≤ N, such as 1/4 for the first of four shards")
        }
        self.index = index
        self.count = count
    }

    /// `K/N`, such as `2/8`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw BERGError.invalidArgument(name: "shard", value: text,
                                            message: "write it K/N, such as 1/4 for the first of four shards")
        }
        try self.init(k, of: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// `K-of-N`, as shard file names carry it.
    public var label: String { "\(index)-of-\(count)" }

    /// The items of a list of `total` that this shard holds.
    public func range(in total: Int) -> Range<Int> {
        let base = total / count, larger = total % count
        let k = index - 1
        let start = k * base + min(k, larger)
        return start ..< start + base + (k < larger ? 1 : 0)
    }
}
