import BERGCore
import Foundation

/// Shard K of N (1-based): the K-th of N contiguous parts of an input list, as
/// `berg encode --shard K/N` spells it. The parts are split as NumPy's `array_split` splits
/// (sizes differ by at most one, the larger first): by whole batches when there are at least
/// N batches, so that no shard starts inside a batch, else image by image.
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

    /// The images of a list of `total` that this shard holds, read in batches of `batchSize`:
    /// whole batches where there are at least `count` of them, else single images.
    public func range(in total: Int, batchSize: Int) -> Range<Int> {
        let batches = (total + max(1, batchSize) - 1) / max(1, batchSize)
        guard batchSize > 1, batches >= count else { return range(in: total) }
        let held = range(in: batches)
        return held.lowerBound * batchSize ..< min(total, held.upperBound * batchSize)
    }

    /// The items of a list of `total` that this shard holds.
    public func range(in total: Int) -> Range<Int> {
        let base = total / count, larger = total % count
        let k = index - 1
        let start = k * base + min(k, larger)
        return start ..< start + base + (k < larger ? 1 : 0)
    }
}
