import Foundation

/// Dense ranks of an RDM's dissimilarities: equal values share a rank, ranks run 0..<distinct
/// in ascending order of value, and NaN gets -1. The rank-based comparisons (Spearman,
/// Kendall's τ-a) and their resamplings work on these integers, so each value is sorted once.
struct RDMRanks: Sendable {
    let ranks: [Int32]
    let distinct: Int

    init(_ values: [Double]) {
        let count = values.count
        precondition(count < Int(Int32.max), "too many dissimilarities to rank")
        // Doubles as unsigned integers in the same order (negatives flipped, -0 as +0).
        var keys: [UInt64] = []
        var indices: [UInt32] = []
        keys.reserveCapacity(count)
        indices.reserveCapacity(count)
        for (i, v) in values.enumerated() where !v.isNaN {
            let bits = (v == 0 ? 0.0 : v).bitPattern
            keys.append(bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63))
            indices.append(UInt32(i))
        }
        RDMRanks.radixSort(&keys, &indices)
        var ranks = [Int32](repeating: -1, count: count)
        var rank: Int32 = -1
        var previous: UInt64? = nil
        for (key, index) in zip(keys, indices) {
            if key != previous { rank += 1; previous = key }
            ranks[Int(index)] = rank
        }
        self.ranks = ranks
        self.distinct = Int(rank) + 1
    }

    /// Least-significant-digit radix sort of `keys` carrying `indices`, 11 bits a pass (2,048
    /// buckets stay in cache), over only the bits in which the keys differ.
    static func radixSort(_ keys: inout [UInt64], _ indices: inout [UInt32]) {
        guard let low = keys.min(), let high = keys.max(), low != high else { return }
        for i in keys.indices { keys[i] -= low }
        let bits = 64 - (high - low).leadingZeroBitCount
        var keyBuffer = [UInt64](repeating: 0, count: keys.count)
        var indexBuffer = [UInt32](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: 2048)
        var shift = 0
        while shift < bits {
            for i in counts.indices { counts[i] = 0 }
            for key in keys { counts[Int((key >> UInt64(shift)) & 2047)] += 1 }
            var total = 0
            for i in counts.indices { let c = counts[i]; counts[i] = total; total += c }
            keys.withUnsafeBufferPointer { k in
                indices.withUnsafeBufferPointer { x in
                    keyBuffer.withUnsafeMutableBufferPointer { kb in
                        indexBuffer.withUnsafeMutableBufferPointer { xb in
                            counts.withUnsafeMutableBufferPointer { c in
                                for i in 0..<k.count {
                                    let digit = Int((k[i] >> UInt64(shift)) & 2047)
                                    let to = c[digit]
                                    c[digit] = to + 1
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
            shift += 11
        }
        for i in keys.indices { keys[i] += low }
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
    /// pairs, the total number of pairs as denominator) of two dense-rank sequences, in
    /// O(n log n): order the pairs by (x, y) with two counting sorts, count the discordant pairs
    /// as the inversions of y in that order (merge sort), and the ties from the counts.
    static func tauA(_ x: [Int32], distinctX: Int, _ y: [Int32], distinctY: Int) -> Double {
        let n = x.count
        guard n >= 2 else { return .nan }
        // Stable counting sorts: by y, then by x.
        let byY = countingOrder(y, distinct: distinctY, of: nil)
        let byXY = countingOrder(x, distinct: distinctX, of: byY)
        var ySorted = [Int32](repeating: 0, count: n)
        var jointTies = 0
        var run = 1
        for k in 0..<n {
            let i = Int(byXY[k])
            ySorted[k] = y[i]
            if k > 0 {
                let p = Int(byXY[k - 1])
                if x[p] == x[i] && y[p] == y[i] { run += 1 } else { jointTies += run * (run - 1) / 2; run = 1 }
            }
        }
        jointTies += run * (run - 1) / 2
        let discordant = Inversions.count(&ySorted)
        let total = n * (n - 1) / 2
        let tau = Double(total - ties(x, distinctX) - ties(y, distinctY) + jointTies - 2 * discordant) / Double(total)
        return min(1, max(-1, tau))
    }

    /// Σ c(c−1)/2 over the counts c of each value.
    static func ties(_ dense: [Int32], _ distinct: Int) -> Int {
        var counts = [Int](repeating: 0, count: distinct)
        for r in dense { counts[Int(r)] += 1 }
        return counts.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
    }

    /// The positions of `keys` in stable ascending order of key; with `order`, the positions
    /// listed there, re-sorted stably by key.
    static func countingOrder(_ keys: [Int32], distinct: Int, of order: [Int32]?) -> [Int32] {
        var starts = [Int](repeating: 0, count: distinct + 1)
        for k in keys { starts[Int(k) + 1] += 1 }
        for r in 0..<distinct { starts[r + 1] += starts[r] }
        var out = [Int32](repeating: 0, count: keys.count)
        if let order {
            for i in order { let r = Int(keys[Int(i)]); out[starts[r]] = i; starts[r] += 1 }
        } else {
            for i in keys.indices { let r = Int(keys[i]); out[starts[r]] = Int32(i); starts[r] += 1 }
        }
        return out
    }
}

/// Counting inversions (i < j with a[i] > a[j], strictly) by merge sort.
enum Inversions {
    /// Sorts `a` and returns its number of inversions.
    static func count(_ a: inout [Int32]) -> Int {
        let n = a.count
        guard n > 1 else { return 0 }
        var buffer = [Int32](repeating: 0, count: n)
        var inversions = 0
        a.withUnsafeMutableBufferPointer { source in
            buffer.withUnsafeMutableBufferPointer { target in
                // Runs of 32 by insertion sort: each shift is one inversion.
                let run = 32
                var start = 0
                while start < n {
                    let end = min(n, start + run)
                    for i in (start + 1)..<end {
                        let v = source[i]
                        var j = i
                        while j > start && source[j - 1] > v { source[j] = source[j - 1]; j -= 1 }
                        inversions += i - j
                        source[j] = v
                    }
                    start = end
                }
                var from = source, to = target
                var width = run
                while width < n {
                    var left = 0
                    while left < n {
                        let middle = min(n, left + width), right = min(n, left + 2 * width)
                        var i = left, j = middle, k = left
                        while i < middle && j < right {
                            if from[j] < from[i] {
                                // from[j] jumps ahead of everything left in the left half.
                                inversions += middle - i
                                to[k] = from[j]; j += 1
                            } else {
                                to[k] = from[i]; i += 1
                            }
                            k += 1
                        }
                        while i < middle { to[k] = from[i]; i += 1; k += 1 }
                        while j < right { to[k] = from[j]; j += 1; k += 1 }
                        left = right
                    }
                    swap(&from, &to)
                    width *= 2
                }
                if from.baseAddress != source.baseAddress {
                    source.baseAddress!.update(from: from.baseAddress!, count: n)
                }
            }
        }
        return inversions
    }
}
