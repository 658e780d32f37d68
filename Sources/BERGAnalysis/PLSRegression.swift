import BERGCore
import CBLAS
import Foundation

/// scikit-learn's `PLSRegression(n_components=K)` with its defaults (scale=True, NIPALS with
/// max_iter 500 and tol 1e-6): all voxels are one multi-target Y, as one PLSRegression fits
/// them. Each component's weights come from the same power iteration (started from the first
/// column of Y that is not constant, stopped when the squared change of the X weights is below
/// tol), with the same sign flip, deflation and rotations. In float64, as sklearn's.
enum PLSRegression {
    static let maxIterations = 500
    static let tolerance = 1e-6

    static func fit(_ problem: FitProblem, components: Int) throws -> FittedReadout {
        guard case .dense(let trainRaw, let testRaw) = problem.features else { preconditionFailure("PLS needs dense features") }
        let n = trainRaw.rows, p = trainRaw.columns, q = problem.voxelCount
        guard n >= 2 else { throw BERGError.invalidInput("PLS needs at least 2 training rows, got \(n)") }
        guard components >= 1, components <= min(n, p) else {
            throw BERGError.shapeMismatch(what: "PLS with \(components) components of \(n) training rows × \(p) features (it needs K ≤ both)",
                                          expected: [min(n, p)], actual: [components])
        }
        // Centre, and scale by the sample standard deviation (ddof 1; 1 where it is 0).
        var x = trainRaw
        let xMean = x.columnMeans()
        x.subtractFromRows(xMean)
        let xStd = standardDeviations(x)
        for i in 0..<n { for j in 0..<p { x.values[i * p + j] /= xStd[j] } }
        let yMean = problem.responseMeans()
        var y = problem.responses.dense(problem.trainRows, voxels: 0..<q, shift: yMean)
        let yStd = standardDeviations(y)
        for i in 0..<n { for j in 0..<q { y.values[i * q + j] /= yStd[j] } }

        let eps = Double.ulpOfOne
        var xWeights = DenseMatrix(zeros: p, components), xLoadings = DenseMatrix(zeros: p, components)
        var yLoadings = DenseMatrix(zeros: q, components)
        var made = 0
        for k in 0..<components {
            // Columns of the deflated Y that are all near zero are set to zero.
            for j in 0..<q {
                var allSmall = true
                for i in 0..<n where abs(y.values[i * q + j]) >= 10 * eps { allSmall = false; break }
                if allSmall { for i in 0..<n { y.values[i * q + j] = 0 } }
            }
            guard let weights = powerIteration(x, y, eps: eps) else { break }  // the y residual is constant
            let scores = product(x, weights)                                  // x_scores [n]
            let ss = dot(scores, scores)
            let loadings = product(x, scores, transpose: true).map { $0 / ss } // [p]
            let yLoading = product(y, scores, transpose: true).map { $0 / ss } // [q]
            for i in 0..<n {
                for j in 0..<p { x.values[i * p + j] -= scores[i] * loadings[j] }
                for j in 0..<q { y.values[i * q + j] -= scores[i] * yLoading[j] }
            }
            for j in 0..<p { xWeights[j, k] = weights[j]; xLoadings[j, k] = loadings[j] }
            for j in 0..<q { yLoadings[j, k] = yLoading[j] }
            made += 1
        }
        // rotations = W·(PᵀW)⁻¹ over the components made; coef = rotations·Qᵀ, rescaled.
        let w = columns(xWeights, made), loadingsMade = columns(xLoadings, made), qMade = columns(yLoadings, made)
        guard let inverse = DenseMatrix.product(loadingsMade, w, transposeA: true).inverse() else {
            throw BERGError.invalidInput("PLS: the loadings and weights are singular; use fewer components")
        }
        let rotations = DenseMatrix.product(w, inverse)                       // [p, K]
        var coefT = DenseMatrix.product(rotations, qMade, transposeB: true)   // [p, V], scaled space
        for i in 0..<p { for j in 0..<q { coefT.values[i * q + j] = coefT.values[i * q + j] * yStd[j] / xStd[i] } }
        var test = testRaw
        test.subtractFromRows(xMean)
        var out = FittedReadout(predictions: FitProblem.predictions(test, coefT, means: yMean))
        if problem.wantCoefficients { out.setCoefficients(coefT, featureMeans: xMean, responseMeans: yMean) }
        return out
    }

    /// `_get_first_singular_vectors_power_method` (mode A) then `_svd_flip_1d`: the X weights,
    /// or nil when every column of y is (near) zero.
    static func powerIteration(_ x: DenseMatrix, _ y: DenseMatrix, eps: Double) -> [Double]? {
        let n = x.rows, q = y.columns
        guard let first = (0..<q).first(where: { j in (0..<n).contains { abs(y.values[$0 * q + j]) > eps } }) else { return nil }
        var yScore = (0..<n).map { y.values[$0 * q + first] }
        var old: [Double]? = nil
        var weights: [Double] = []
        for _ in 0..<maxIterations {
            let yy = dot(yScore, yScore)
            weights = product(x, yScore, transpose: true).map { $0 / yy }
            let norm = dot(weights, weights).squareRoot() + eps
            weights = weights.map { $0 / norm }
            let xScore = product(x, weights)
            let xx = dot(xScore, xScore)
            let yWeights = product(y, xScore, transpose: true).map { $0 / xx }
            let ww = dot(yWeights, yWeights) + eps
            yScore = product(y, yWeights).map { $0 / ww }
            // sklearn's first check compares with its starting value 100, so never stops.
            if q == 1 { break }
            if let previous = old {
                var change = 0.0
                for (a, b) in zip(weights, previous) { change += (a - b) * (a - b) }
                if change < tolerance { break }
            }
            old = weights
        }
        // _svd_flip_1d: the largest |weight| positive.
        var best = 0
        for j in weights.indices where abs(weights[j]) > abs(weights[best]) { best = j }
        if weights[best] < 0 { weights = weights.map { -$0 } }
        return weights
    }

    static func standardDeviations(_ m: DenseMatrix) -> [Double] {
        let n = m.rows, p = m.columns
        var sums = [Double](repeating: 0, count: p)
        let means = m.columnMeans()
        for i in 0..<n { for j in 0..<p { let d = m.values[i * p + j] - means[j]; sums[j] += d * d } }
        return sums.map { s in
            let std = (s / Double(n - 1)).squareRoot()
            return std == 0 ? 1 : std
        }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { cblas_ddot(Int32(a.count), a, 1, b, 1) }

    /// m·v, or mᵀ·v with `transpose`.
    static func product(_ m: DenseMatrix, _ v: [Double], transpose: Bool = false) -> [Double] {
        var out = [Double](repeating: 0, count: transpose ? m.columns : m.rows)
        cblas_dgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m.rows), Int32(m.columns), 1, m.values,
                    Int32(m.columns), v, 1, 0, &out, 1)
        return out
    }

    static func columns(_ m: DenseMatrix, _ count: Int) -> DenseMatrix {
        var out = DenseMatrix(zeros: m.rows, count)
        for i in 0..<m.rows { for j in 0..<count { out[i, j] = m[i, j] } }
        return out
    }
}
