import BERGCompute
import BERGCore
import Foundation

/// The result of a permutation test of an RDM comparison.
public struct RDMPermutationTest: Sendable, Equatable {
    public var observed: Double
    public var permutations: Int
    /// How many relabellings gave a value at least the observed one.
    public var atLeastObserved: Int
    /// (atLeastObserved + 1) / (permutations + 1).
    public var pValue: Double
}

/// The bootstrap distribution of an RDM comparison, summarised.
public struct RDMBootstrap: Sendable, Equatable {
    public var samples: Int
    /// The standard deviation of the bootstrap values (n − 1 in the denominator).
    public var standardError: Double
    /// The 2.5th and 97.5th percentiles of the bootstrap values (NumPy's linear interpolation).
    public var lower: Double
    public var upper: Double
    /// Samples whose value was undefined (NaN), left out of the summary.
    public var undefined: Int
}

extension RDMComparison {
    /// A one-sided permutation test: the comparison recomputed after `permutations` random
    /// relabellings of A's stimuli (its rows and columns permuted together), and
    /// p = (number ≥ observed + 1) / (permutations + 1). Relabelling j uses the generator
    /// `Xoshiro256StarStar(seed:, stream: j + 1)`, so the result depends on the seed alone, not
    /// on how many threads run it. "≥" allows 1e-12 relative for rounding, so that a
    /// relabelling that changes nothing counts.
    public func permutationTest(permutations: Int, seed: UInt64) -> RDMPermutationTest {
        let observed = value
        let values = resampled(permutations) { j in
            var generator = Xoshiro256StarStar(seed: seed, stream: UInt64(j) + 1)
            return permuted(generator.permutation(stimulusCount))
        }
        let threshold = observed - 1e-12 * max(1, abs(observed))
        let count = values.filter { $0 >= threshold }.count
        return RDMPermutationTest(observed: observed, permutations: permutations, atLeastObserved: count,
                                  pValue: Double(count + 1) / Double(permutations + 1))
    }

    /// A bootstrap over stimuli: `samples` times, N stimuli drawn with replacement and the
    /// comparison recomputed on both RDMs restricted to them. As in rsatoolbox's
    /// `bootstrap_sample_pattern`, the pairs of a stimulus with a copy of itself are left out
    /// (their dissimilarity is a trivial 0). Sample j uses stream `j + 1` of the seed's generator.
    public func bootstrap(samples: Int, seed: UInt64) -> RDMBootstrap {
        let values = resampled(samples) { j in
            var generator = Xoshiro256StarStar(seed: seed, stream: UInt64(j) + 1)
            return bootstrapped((0..<stimulusCount).map { _ in generator.uniform(below: stimulusCount) })
        }
        let defined = values.filter { !$0.isNaN }.sorted()
        guard defined.count >= 2 else {
            return RDMBootstrap(samples: samples, standardError: .nan, lower: .nan, upper: .nan, undefined: values.count - defined.count)
        }
        let mean = defined.reduce(0, +) / Double(defined.count)
        let variance = defined.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(defined.count - 1)
        return RDMBootstrap(samples: samples, standardError: variance.squareRoot(),
                            lower: RDMComparison.percentile(defined, 2.5), upper: RDMComparison.percentile(defined, 97.5),
                            undefined: values.count - defined.count)
    }

    /// The comparison with A's stimuli relabelled: entry (i, j) of A becomes A[order[i], order[j]]
    /// (rsatoolbox's `RDMs.reorder(order)`).
    public func permuted(_ order: [Int]) -> Double {
        let n = stimulusCount
        var index = [Int32](repeating: 0, count: a.count)
        var k = 0
        for i in 0..<n {
            let row = order[i]
            for j in (i + 1)..<n {
                index[k] = Int32(RDM.pairIndex(row, order[j], stimuli: n))
                k += 1
            }
        }
        return statistic(aIndex: index, bIndex: nil)
    }

    /// The comparison on the stimuli `sample` (drawn with replacement): rsatoolbox's
    /// `compare(A.subsample_pattern('index', sample), B.subsample_pattern('index', sample))`.
    public func bootstrapped(_ sample: [Int]) -> Double {
        let drawn = sample.sorted()
        var index: [Int32] = []
        index.reserveCapacity(a.count)
        for p in drawn.indices {
            for q in (p + 1)..<drawn.count where drawn[p] != drawn[q] {
                index.append(Int32(RDM.pairIndex(drawn[p], drawn[q], stimuli: stimulusCount)))
            }
        }
        return statistic(aIndex: index, bIndex: index)
    }

    /// `value(j)` for j in 0..<count, on all compute threads, in order.
    func resampled(_ count: Int, _ value: (Int) -> Double) -> [Double] {
        var out = [Double](repeating: .nan, count: count)
        let workers = max(1, min(ComputeThreads.count, count))
        out.withUnsafeMutableBufferPointer { slots in
            withoutActuallyEscaping(value) { value in
                let box = UncheckedSendable((slots, value))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let (slots, value) = box.value
                    for j in stride(from: w, to: count, by: workers) { slots[j] = value(j) }
                }
            }
        }
        return out
    }

    /// NumPy's `percentile(sorted, q)` with linear interpolation.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q / 100 * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(sorted.count - 1, low + 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}
