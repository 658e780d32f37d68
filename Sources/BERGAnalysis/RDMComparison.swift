import BERGCompute
import BERGCore
import Foundation

/// How two RDMs' condensed upper triangles are compared, with rsatoolbox's name for each.
public enum RDMComparisonMethod: String, Sendable, CaseIterable, Codable {
    /// Pearson r: rsatoolbox's `corr`.
    case pearson
    /// Spearman ρ, Pearson r of average ranks: rsatoolbox's `spearman`.
    case spearman
    /// Kendall's τ-a, no tie correction: rsatoolbox's `tau-a` (not SciPy's τ-b).
    case kendallTauA = "kendall-tau-a"
    /// Cosine similarity: rsatoolbox's `cosine`.
    case cosine

    /// The name `rsatoolbox.rdm.compare(method=...)` takes.
    public var rsatoolboxName: String {
        switch self {
        case .pearson: return "corr"
        case .spearman: return "spearman"
        case .kendallTauA: return "tau-a"
        case .cosine: return "cosine"
        }
    }

    var usesRanks: Bool { self == .spearman || self == .kendallTauA }
}

/// Two RDMs over the same stimuli, ready to be compared by one method over all their pairs or
/// over any relabelling or resampling of their stimuli. Rank methods rank each RDM once.
///
/// Pairs where either RDM is NaN are left out, as rsatoolbox leaves them out. A pattern of
/// zero variance gives 0 for Pearson, Spearman and cosine, as rsatoolbox's `_cosine` gives.
public struct RDMComparison: Sendable {
    public let method: RDMComparisonMethod
    public let stimulusCount: Int
    let a: [Double]
    let b: [Double]
    let aRanks: RDMRanks?
    let bRanks: RDMRanks?

    public init(_ a: RDM, _ b: RDM, method: RDMComparisonMethod) throws {
        guard a.stimulusCount == b.stimulusCount else {
            throw BERGError.invalidInput("RDMs \(a.name) and \(b.name) cannot be compared: \(a.stimulusCount) stimuli against \(b.stimulusCount); both need the same stimuli in the same order")
        }
        guard a.stimulusCount >= 3 else {
            throw BERGError.invalidInput("Comparing RDMs needs at least 3 stimuli (2 pairs); \(a.name) has \(a.stimulusCount)")
        }
        self.method = method
        self.stimulusCount = a.stimulusCount
        self.a = a.dissimilarities
        self.b = b.dissimilarities
        if method.usesRanks {
            // The two RDMs are ranked side by side when there are threads for it.
            let pair = UncheckedSendable([a.dissimilarities, b.dissimilarities])
            var ranked = [RDMRanks?](repeating: nil, count: 2)
            ranked.withUnsafeMutableBufferPointer { slots in
                let out = UncheckedSendable(slots)
                if ComputeThreads.count > 1 {
                    DispatchQueue.concurrentPerform(iterations: 2) { out.value[$0] = RDMRanks(pair.value[$0]) }
                } else {
                    for i in 0..<2 { out.value[i] = RDMRanks(pair.value[i]) }
                }
            }
            aRanks = ranked[0]
            bRanks = ranked[1]
        } else {
            aRanks = nil
            bRanks = nil
        }
    }

    /// The comparison over all pairs, as `rsatoolbox.rdm.compare(a, b, method)`.
    public var value: Double { statistic(aIndex: nil, bIndex: nil) }

    /// The comparison over selected pairs: pair k takes A's condensed entry `aIndex[k]` and B's
    /// entry `bIndex[k]` (all entries in order where nil).
    func statistic(aIndex: [Int32]?, bIndex: [Int32]?) -> Double {
        let count = aIndex?.count ?? bIndex?.count ?? a.count
        @inline(__always) func ai(_ k: Int) -> Int { aIndex.map { Int($0[k]) } ?? k }
        @inline(__always) func bi(_ k: Int) -> Int { bIndex.map { Int($0[k]) } ?? k }
        if let aRanks, let bRanks {
            if method == .kendallTauA, aIndex == nil, bIndex == nil, !aRanks.hasNaN, !bRanks.hasNaN {
                // All pairs: A's sorted order and both tie counts are already known.
                return RankStatistics.tauA(orderedByX: aRanks.order, x: aRanks.ranks, y: bRanks.ranks,
                                           tiedX: aRanks.tiedPairs, tiedY: bRanks.tiedPairs)
            }
            var x: [Int32] = [], y: [Int32] = []
            x.reserveCapacity(count)
            y.reserveCapacity(count)
            for k in 0..<count {
                let rx = aRanks.ranks[ai(k)], ry = bRanks.ranks[bi(k)]
                if rx >= 0 && ry >= 0 { x.append(rx); y.append(ry) }
            }
            if method == .kendallTauA {
                return RankStatistics.tauA(x, distinctX: aRanks.distinct, y, distinctY: bRanks.distinct)
            }
            return RDMComparison.pearson(RankStatistics.averageRanks(x, distinct: aRanks.distinct),
                                         RankStatistics.averageRanks(y, distinct: bRanks.distinct))
        }
        if aIndex == nil, bIndex == nil, !a.contains(where: \.isNaN), !b.contains(where: \.isNaN) {
            // All pairs, none missing: no copies.
            return method == .cosine ? RDMComparison.cosine(a, b) : RDMComparison.pearson(a, b)
        }
        var x: [Double] = [], y: [Double] = []
        x.reserveCapacity(count)
        y.reserveCapacity(count)
        for k in 0..<count {
            let vx = a[ai(k)], vy = b[bi(k)]
            if !vx.isNaN && !vy.isNaN { x.append(vx); y.append(vy) }
        }
        return method == .cosine ? RDMComparison.cosine(x, y) : RDMComparison.pearson(x, y)
    }

    /// Pearson r as rsatoolbox computes it: both centred, then their cosine.
    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count >= 2 else { return .nan }
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        var xy = 0.0, xx = 0.0, yy = 0.0
        for k in x.indices {
            let dx = x[k] - mx, dy = y[k] - my
            xy += dx * dy; xx += dx * dx; yy += dy * dy
        }
        return xx > 0 && yy > 0 ? xy / xx.squareRoot() / yy.squareRoot() : 0
    }

    static func cosine(_ x: [Double], _ y: [Double]) -> Double {
        guard !x.isEmpty else { return .nan }
        var xy = 0.0, xx = 0.0, yy = 0.0
        for k in x.indices { xy += x[k] * y[k]; xx += x[k] * x[k]; yy += y[k] * y[k] }
        return xx > 0 && yy > 0 ? xy / xx.squareRoot() / yy.squareRoot() : 0
    }
}
