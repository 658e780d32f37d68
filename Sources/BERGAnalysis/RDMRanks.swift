import BERGCompute
import BERGCore
import Foundation

/// Dense ranks of an RDM's dissimilarities: equal values share a rank, ranks run 0..<distinct
/// in ascending order of value, and NaN gets -1. The rank-based comparisons (Spearman,
/// Kendall's τ-a) and their resamplings work on these integers, so each value is sorted once.
struct RDMRanks: Sendable {
    let ranks: [Int32]
    let distinct: Int
    /// The positions of the values that are not NaN, in ascending order of value.
    let order: [UInt32]
    /// Σ c(c−1)/2 over the counts c of equal values: the tied pairs.
    let tiedPairs: Int
    /// Whether some value is NaN.
    var hasNaN: Bool { order.count < ranks.count }

    /// Sorts by the top 32 of the bits in which the values differ (three radix passes over
    /// 8 bytes a value, instead of five or six over 12 for whole doubles), then puts each run
    /// of equal 32-bit keys in order by the whole value, which costs nothing for ties and
    /// little otherwise (two values of 2 million rarely share 32 leading bits).
    init(_ values: [Double]) {
        let count = values.count
        precondition(count < Int(UInt32.max), "too many dissimilarities to rank")
        var low = UInt64.max, high = UInt64.min, valid = 0
        for v in values where !v.isNaN {
            let key = RDMRanks.key(v)
            low = min(low, key)
            high = max(high, key)
            valid += 1
        }
        let shift = UInt64(max(0, 64 - (high &- low).leadingZeroBitCount - 32))
        var keys = [UInt32](repeating: 0, count: valid)
        var order = [UInt32](repeating: 0, count: valid)
        var k = 0
        for (i, v) in values.enumerated() where !v.isNaN {
            keys[k] = UInt32(truncatingIfNeeded: (RDMRanks.key(v) &- low) >> shift)
            order[k] = UInt32(i)
            k += 1
        }
        RDMRanks.radixSort(&keys, &order)
        var ranks = [Int32](repeating: -1, count: count)
        var rank: Int32 = -1
        var tied = 0
        values.withUnsafeBufferPointer { values in
            keys.withUnsafeBufferPointer { keys in
                order.withUnsafeMutableBufferPointer { order in
                    ranks.withUnsafeMutableBufferPointer { ranks in
                        var start = 0
                        while start < valid {
                            var end = start + 1
                            while end < valid && keys[end] == keys[start] { end += 1 }
                            let run = UnsafeMutableBufferPointer(rebasing: order[start..<end])
                            if run.count > 1 && shift > 0 {
                                // Equal leading bits: order the run by the whole value (stable).
                                if !run.indices.dropFirst().allSatisfy({ values[Int(run[$0 - 1])] <= values[Int(run[$0])] }) {
                                    var sorted = Array(run)
                                    sorted.sort { (values[Int($0)], $0) < (values[Int($1)], $1) }
                                    for (p, index) in sorted.enumerated() { order[start + p] = index }
                                }
                            }
                            // Ranks: a new one at each change of value (always at a new key).
                            rank += 1
                            ranks[Int(order[start])] = rank
                            var equal = 1
                            for p in (start + 1)..<end {
                                if values[Int(order[p])] != values[Int(order[p - 1])] {
                                    rank += 1
                                    tied += equal * (equal - 1) / 2
                                    equal = 0
                                }
                                equal += 1
                                ranks[Int(order[p])] = rank
                            }
                            tied += equal * (equal - 1) / 2
                            start = end
                        }
                    }
                }
            }
        }
        self.ranks = ranks
        self.distinct = Int(rank) + 1
        self.order = order
        self.tiedPairs = tied
    }

    /// A double as an unsigned integer in the same order (negatives flipped, −0 as +0).
    @inline(__always)
    static func key(_ v: Double) -> UInt64 {
        let bits = (v == 0 ? 0.0 : v).bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    /// Least-significant-digit radix sort of `keys` carrying `indices` (stable), 11 bits a
    /// pass (2,048 buckets stay in cache), over only the bits the keys use; every pass's
    /// histogram is counted in one read up front.
    static func radixSort(_ keys: inout [UInt32], _ indices: inout [UInt32]) {
        guard let high = keys.max(), high > 0 else { return }
        let passes = (32 - high.leadingZeroBitCount + 10) / 11
        var counts = [Int](repeating: 0, count: passes * 2048)
        counts.withUnsafeMutableBufferPointer { c in
            for key in keys {
                for p in 0..<passes { c[p * 2048 + Int((key >> UInt32(11 * p)) & 2047)] += 1 }
            }
            for p in 0..<passes {
                var total = 0
                for d in 0..<2048 { let x = c[p * 2048 + d]; c[p * 2048 + d] = total; total += x }
            }
        }
        var keyBuffer = [UInt32](repeating: 0, count: keys.count)
        var indexBuffer = [UInt32](repeating: 0, count: keys.count)
        for p in 0..<passes {
            let shift = UInt32(11 * p)
            keys.withUnsafeBufferPointer { k in
                indices.withUnsafeBufferPointer { x in
                    keyBuffer.withUnsafeMutableBufferPointer { kb in
                        indexBuffer.withUnsafeMutableBufferPointer { xb in
                            counts.withUnsafeMutableBufferPointer { c in
                                let offsets = c.baseAddress! + p * 2048
                                for i in 0..<k.count {
                                    let digit = Int((k[i] >> shift) & 2047)
                                    let to = offsets[digit]
                                    offsets[digit] = to + 1
                                    kb[to] = k[i]
                                    xb[to] = x[i]
                                }
                            }
                        }
                    }
                }
            }
            swap(&keys, &keyBuffer)
            swap(&indices, &indexBuffer)
        }
    }
}

/// Statistics of integer ranks, as rsatoolbox computes them on the values.
enum RankStatistics {
    /// SciPy's `rankdata(method='average')` (1-based) of the selected dense ranks, from counts:
    /// a value's average rank is the number of smaller values plus (its count + 1) / 2.
    static func averageRanks(_ dense: [Int32], distinct: Int) -> [Double] {
        var counts = [Int](repeating: 0, count: distinct)
        for r in dense { counts[Int(r)] += 1 }
        var average = [Double](repeating: 0, count: distinct)
        var below = 0
        for r in 0..<distinct where counts[r] > 0 {
            average[r] = Double(below) + Double(counts[r] + 1) / 2
            below += counts[r]
        }
        return dense.map { average[Int($0)] }
    }

    /// Kendall's τ-a (rsatoolbox's `tau-a`: ties counted in neither concordant nor discordant
    /// pairs, the total number of pairs as denominator) of two dense-rank sequences.
    static func tauA(_ x: [Int32], distinctX: Int, _ y: [Int32], distinctY: Int) -> Double {
        guard x.count >= 2 else { return .nan }
        let order = countingOrder(x, distinct: distinctX)
        return tauA(orderedByX: order, x: x, y: y, tiedX: ties(x, distinctX), tiedY: ties(y, distinctY))
    }

    /// τ-a in O(n log n): y's ranks in ascending order of x (`orderedByX`), each run of equal x
    /// sorted by y, so that the discordant pairs are the inversions of that sequence (merge
    /// sort); the tied pairs come from the counts (`tiedX`, `tiedY`) and the runs of equal (x, y).
    static func tauA(orderedByX order: [UInt32], x: [Int32], y: [Int32], tiedX: Int, tiedY: Int) -> Double {
        let n = order.count
        guard n >= 2 else { return .nan }
        var sequence = [Int32](repeating: 0, count: n)
        var jointTies = 0
        sequence.withUnsafeMutableBufferPointer { sequence in
            order.withUnsafeBufferPointer { order in
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeBufferPointer { y in
                        for k in 0..<n { sequence[k] = y[Int(order[k])] }
                        // Without ties in x there are no runs to sort (and no random reads of x).
                        var start = tiedX == 0 ? n : 0
                        while start < n {
                            let rank = x[Int(order[start])]
                            var end = start + 1
                            while end < n && x[Int(order[end])] == rank { end += 1 }
                            if end - start > 1 {
                                var run = UnsafeMutableBufferPointer(rebasing: sequence[start..<end])
                                run.sort()
                                var equal = 1
                                for k in 1..<run.count {
                                    if run[k] == run[k - 1] { equal += 1 } else { jointTies += equal * (equal - 1) / 2; equal = 1 }
                                }
                                jointTies += equal * (equal - 1) / 2
                            }
                            start = end
                        }
                    }
                }
            }
        }
        let discordant = Inversions.count(&sequence)
        let total = n * (n - 1) / 2
        let tau = Double(total - tiedX - tiedY + jointTies - 2 * discordant) / Double(total)
        return min(1, max(-1, tau))
    }

    /// Σ c(c−1)/2 over the counts c of each value.
    static func ties(_ dense: [Int32], _ distinct: Int) -> Int {
        var counts = [Int](repeating: 0, count: distinct)
        for r in dense { counts[Int(r)] += 1 }
        return counts.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
    }

    /// The positions of `keys` in stable ascending order of key.
    static func countingOrder(_ keys: [Int32], distinct: Int) -> [UInt32] {
        var starts = [Int](repeating: 0, count: distinct + 1)
        for k in keys { starts[Int(k) + 1] += 1 }
        for r in 0..<distinct { starts[r + 1] += starts[r] }
        var out = [UInt32](repeating: 0, count: keys.count)
        for i in keys.indices { let r = Int(keys[i]); out[starts[r]] = UInt32(i); starts[r] += 1 }
        return out
    }
}

/// Counting inversions (i < j with a[i] > a[j], strictly) by merge sort: parts sorted on
/// separate threads, then merged, each merge counting the pairs that cross it.
enum Inversions {
    /// Sorts `a` and returns its number of inversions.
    static func count(_ a: inout [Int32]) -> Int {
        let n = a.count
        guard n > 1 else { return 0 }
        var buffer = [Int32](repeating: 0, count: n)
        var parts = 1
        while parts * 2 <= ComputeThreads.count && n / (parts * 2) >= 1 << 15 { parts *= 2 }
        var total = 0
        a.withUnsafeMutableBufferPointer { a in
            buffer.withUnsafeMutableBufferPointer { b in
                let bounds = (0...parts).map { n * $0 / parts }
                var counts = [Int](repeating: 0, count: parts)
                counts.withUnsafeMutableBufferPointer { counts in
                    let shared = UncheckedSendable((a, b, counts))
                    DispatchQueue.concurrentPerform(iterations: parts) { p in
                        let (a, b, counts) = shared.value
                        counts[p] = sortRange(a.baseAddress!, b.baseAddress!, bounds[p], bounds[p + 1])
                    }
                }
                total = counts.reduce(0, +)
                // Merge neighbouring parts, wider each round; the sorted data stays in `a`.
                var width = 1
                while width < parts {
                    for left in stride(from: 0, to: parts, by: 2 * width) where left + width < parts {
                        let low = bounds[left], middle = bounds[left + width], high = bounds[min(parts, left + 2 * width)]
                        total += merge(a.baseAddress!, into: b.baseAddress!, low, middle, high)
                        (a.baseAddress! + low).update(from: b.baseAddress! + low, count: high - low)
                    }
                    width *= 2
                }
            }
        }
        return total
    }

    /// Sorts a[low..<high] (b is scratch of the same range) and returns its inversions.
    static func sortRange(_ a: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Int32>, _ low: Int, _ high: Int) -> Int {
        var inversions = 0
        // Runs of 32 by insertion sort: each shift is one inversion.
        let run = 32
        var start = low
        while start < high {
            let end = min(high, start + run)
            var i = start + 1
            while i < end {
                let v = a[i]
                var j = i
                while j > start && a[j - 1] > v { a[j] = a[j - 1]; j -= 1 }
                inversions += i - j
                a[j] = v
                i += 1
            }
            start = end
        }
        var from = a, to = b
        var width = run
        while width < high - low {
            var left = low
            while left < high {
                let middle = min(high, left + width), right = min(high, left + 2 * width)
                let nextMiddle = min(high, right + width), nextRight = min(high, right + 2 * width)
                if nextMiddle < nextRight {
                    inversions += mergeTwo(from, into: to, (left, middle, right), (right, nextMiddle, nextRight))
                    left = nextRight
                } else {
                    inversions += merge(from, into: to, left, middle, right)
                    left = right
                }
            }
            swap(&from, &to)
            width *= 2
        }
        if from != a { (a + low).update(from: from + low, count: high - low) }
        return inversions
    }

    /// Merges the sorted from[low..<middle] and from[middle..<high] into to[low..<high] and
    /// returns how many pairs (left, right) have left > right. Branch-free in the inner loop
    /// (a comparison of random data mispredicts half the time).
    @inline(__always)
    static func merge(_ from: UnsafeMutablePointer<Int32>, into to: UnsafeMutablePointer<Int32>,
                      _ low: Int, _ middle: Int, _ high: Int) -> Int {
        var i = low, j = middle, k = low, inversions = 0
        while i < middle && j < high { step(from, to, &i, &j, &k, middle, &inversions) }
        while i < middle { to[k] = from[i]; i += 1; k += 1 }
        while j < high { to[k] = from[j]; j += 1; k += 1 }
        return inversions
    }

    /// Two neighbouring merges in one loop: two independent chains of loads and compares keep
    /// the core busy (about a third faster than one after the other).
    @inline(__always)
    static func mergeTwo(_ from: UnsafeMutablePointer<Int32>, into to: UnsafeMutablePointer<Int32>,
                         _ first: (Int, Int, Int), _ second: (Int, Int, Int)) -> Int {
        var (i, j, k) = (first.0, first.1, first.0), a = 0
        var (i2, j2, k2) = (second.0, second.1, second.0), b = 0
        while i < first.1 && j < first.2 && i2 < second.1 && j2 < second.2 {
            step(from, to, &i, &j, &k, first.1, &a)
            step(from, to, &i2, &j2, &k2, second.1, &b)
        }
        while i < first.1 && j < first.2 { step(from, to, &i, &j, &k, first.1, &a) }
        while i < first.1 { to[k] = from[i]; i += 1; k += 1 }
        while j < first.2 { to[k] = from[j]; j += 1; k += 1 }
        while i2 < second.1 && j2 < second.2 { step(from, to, &i2, &j2, &k2, second.1, &b) }
        while i2 < second.1 { to[k2] = from[i2]; i2 += 1; k2 += 1 }
        while j2 < second.2 { to[k2] = from[j2]; j2 += 1; k2 += 1 }
        return a &+ b
    }

    /// One step of a merge: the smaller head moves to `to` (the left one on ties); taking the
    /// right head counts the left elements still waiting, all larger than it.
    @inline(__always)
    static func step(_ from: UnsafeMutablePointer<Int32>, _ to: UnsafeMutablePointer<Int32>,
                     _ i: inout Int, _ j: inout Int, _ k: inout Int, _ middle: Int, _ inversions: inout Int) {
        let left = Int(from[i]), right = Int(from[j])
        let takeRight = (right &- left) >> 63  // all ones when right < left, else 0
        to[k] = Int32(truncatingIfNeeded: left ^ ((left ^ right) & takeRight))
        inversions &+= (middle &- i) & takeRight
        j &-= takeRight
        i &+= 1 &+ takeRight
        k &+= 1
    }
}
