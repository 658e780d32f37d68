import BERGCore
import Foundation

/// How the rows are split into training and held-out rows.
public enum Validation: Sendable, Equatable {
    /// scikit-learn's `KFold(K)`: K contiguous folds in row order, no shuffling; the first
    /// N mod K folds have one row more.
    case kFold(Int)
    /// The first rows train and the last ⌈F·N⌉ validate, in row order (`train_test_split(...,
    /// test_size=F, shuffle=False)`, img2brain's 80/20 split).
    case holdOut(fraction: Double)

    /// The folds' (training rows, held-out rows) for `rows` rows.
    public func splits(rows: Int) throws -> [(train: [Int], test: [Int])] {
        switch self {
        case .kFold(let k):
            guard k >= 2, k <= rows else {
                throw BERGError.invalidArgument(name: "cv", value: String(k), message: "K-fold needs 2 ≤ K ≤ the \(rows) rows")
            }
            var out: [(train: [Int], test: [Int])] = []
            var start = 0
            for fold in 0..<k {
                let size = rows / k + (fold < rows % k ? 1 : 0)
                let test = Array(start ..< start + size)
                out.append((Array(0..<start) + Array((start + size)..<rows), test))
                start += size
            }
            return out
        case .holdOut(let fraction):
            let held = Int((fraction * Double(rows)).rounded(.up))
            guard fraction > 0, fraction < 1, held >= 1, held < rows else {
                throw BERGError.invalidArgument(name: "val-fraction", value: String(fraction),
                                                message: "must be between 0 and 1 and leave rows on both sides of the \(rows) rows")
            }
            return [(Array(0..<(rows - held)), Array((rows - held)..<rows))]
        }
    }

    /// How many columns `scores.npy` has.
    public var foldCount: Int {
        switch self {
        case .kFold(let k): return k
        case .holdOut: return 1
        }
    }
}

/// How a voxel's held-out predictions are scored.
public enum ScoreKind: String, Sendable, CaseIterable {
    /// Pearson's r between predicted and measured responses (NaN when either is constant).
    case correlation
    /// scikit-learn's `r2_score`: 1 − SS_res / SS_tot (1 for a perfect fit of a constant
    /// voxel, else 0 when SS_tot is 0).
    case r2

    /// One score per voxel of `predicted` [m, V] against the responses' rows `rows`.
    func scores(predicted: [Float], responses: ResponseRows, rows: [Int]) -> [Double] {
        let m = rows.count, v = responses.columns
        var actualMean = [Double](repeating: 0, count: v), predictedMean = [Double](repeating: 0, count: v)
        for (r, i) in rows.enumerated() {
            for j in 0..<v {
                actualMean[j] += Double(responses.values[i * v + j])
                predictedMean[j] += Double(predicted[r * v + j])
            }
        }
        for j in 0..<v { actualMean[j] /= Double(m); predictedMean[j] /= Double(m) }
        var xy = [Double](repeating: 0, count: v), xx = xy, yy = xy, residual = xy
        for (r, i) in rows.enumerated() {
            for j in 0..<v {
                let y = Double(responses.values[i * v + j]), p = Double(predicted[r * v + j])
                let dy = y - actualMean[j], dp = p - predictedMean[j]
                xy[j] += dp * dy; xx[j] += dp * dp; yy[j] += dy * dy
                residual[j] += (y - p) * (y - p)
            }
        }
        switch self {
        case .correlation:
            return (0..<v).map { j in xx[j] > 0 && yy[j] > 0 ? xy[j] / (xx[j] * yy[j]).squareRoot() : .nan }
        case .r2:
            return (0..<v).map { j in yy[j] > 0 ? 1 - residual[j] / yy[j] : (residual[j] == 0 ? 1 : 0) }
        }
    }
}
