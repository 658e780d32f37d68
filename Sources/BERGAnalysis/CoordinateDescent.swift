import BERGCompute
import BERGCore
import CBLAS
import Foundation

/// scikit-learn's `Lasso(alpha)` and `ElasticNet(alpha, l1_ratio)` with their defaults (an
/// intercept by centring, max_iter 1000, tol 1e-4, cyclic selection, gap-safe screening),
/// one voxel at a time as their `fit` does for several targets: `enet_coordinate_descent`
/// step for step (the same feature order, updates, stopping rule on the largest update and
/// the duality gap, screening), with its residual kept implicitly through the Gram matrix
/// XcᵀXc, which makes an epoch O(p²) instead of O(n·p). In float64.
enum CoordinateDescent {
    static let maxIterations = 1000
    static let tolerance = 1e-4

    static func fit(_ problem: FitProblem, alpha: Double, l1Ratio: Double) throws -> FittedReadout {
        let (train, test, mean) = problem.centred()
        let n = train.rows, p = train.columns, v = problem.voxelCount
        let yMean = problem.responseMeans()
        let gram = DenseMatrix.crossProduct(train)
        let xty = problem.crossCovariance(train, responseMeans: yMean).transposed   // [V, p]
        var squares = [Double](repeating: 0, count: v)
        problem.responses.values.withUnsafeBufferPointer { y in
            for i in problem.trainRows {
                for j in 0..<v { let d = Double(y[i * v + j]) - yMean[j]; squares[j] += d * d }
            }
        }
        let l1 = alpha * l1Ratio * Double(n), l2 = alpha * (1 - l1Ratio) * Double(n)
        var coefT = DenseMatrix(zeros: p, v)
        var solutions = [Double](repeating: 0, count: v * p)
        solutions.withUnsafeMutableBufferPointer { out in
            let target = UncheckedSendable(out.baseAddress!)
            Parallel.forEach(v) { voxel, _ in
                let w = solve(gram: gram, xty: Array(xty.values[(voxel * p) ..< ((voxel + 1) * p)]), yy: squares[voxel], l1: l1, l2: l2)
                for k in 0..<p { target.value[voxel * p + k] = w[k] }
            }
        }
        for j in 0..<v { for k in 0..<p { coefT.values[k * v + j] = solutions[j * p + k] } }
        var out = FittedReadout(predictions: FitProblem.predictions(test, coefT, means: yMean))
        if problem.wantCoefficients { out.setCoefficients(coefT, featureMeans: mean, responseMeans: yMean) }
        return out
    }

    /// Minimises ½‖y − Xw‖² + l1‖w‖₁ + ½·l2‖w‖² for centred X, y given by Q = XᵀX, Xᵀy and yᵀy.
    static func solve(gram: DenseMatrix, xty q: [Double], yy: Double, l1: Double, l2: Double,
                      maxIterations: Int = maxIterations, tolerance: Double = tolerance) -> [Double] {
        let p = q.count
        var w = [Double](repeating: 0, count: p)
        // Q·w, so that Xᵀ(y − Xw) = q − h; a raw buffer, updated by BLAS.
        let h = UnsafeMutablePointer<Double>.allocate(capacity: max(p, 1))
        h.initialize(repeating: 0, count: max(p, 1))
        defer { h.deallocate() }
        var xta = [Double](repeating: 0, count: p)
        let norms = (0..<p).map { gram.values[$0 * p + $0] }
        let tol = tolerance * yy
        let screening = l1 != 0
        var active = Array(0..<p)
        var excluded = [Bool](repeating: false, count: p)

        return gram.values.withUnsafeBufferPointer { qm in
            /// h += delta · Q[:, j] (Q is symmetric: its row j).
            func update(_ j: Int, _ delta: Double) {
                cblas_daxpy(Int32(p), delta, qm.baseAddress! + j * p, 1, h, 1)
            }
            /// The duality gap of `gap_enet`, and ‖XᵀA‖ (xta is left holding XᵀR − l2·w).
            func gap() -> (gap: Double, dualNorm: Double) {
                var wq = 0.0, wh = 0.0, l1Norm = 0.0, l2Norm = 0.0
                for k in 0..<p { wq += w[k] * q[k]; wh += w[k] * h[k]; l1Norm += abs(w[k]); l2Norm += w[k] * w[k] }
                let residualNorm = yy - 2 * wq + wh, ry = yy - wq
                if l1 == 0 {
                    var dual = 0.0
                    for k in 0..<p { xta[k] = q[k] - h[k]; dual += xta[k] * xta[k] }
                    if l2 == 0 { return (dual, dual) }
                    return (residualNorm + 0.5 * l2 * l2Norm - ry + dual / (2 * l2), dual)
                }
                var dualNorm = 0.0
                for k in 0..<p { xta[k] = q[k] - h[k] - l2 * w[k]; dualNorm = max(dualNorm, abs(xta[k])) }
                let primal = 0.5 * (residualNorm + l2 * l2Norm) + l1 * l1Norm
                let scale = dualNorm > l1 ? l1 / dualNorm : 1
                let dual = -0.5 * scale * scale * (residualNorm + l2 * l2Norm) + scale * ry
                return (primal - dual, dualNorm)
            }
            /// Gap-safe screening (Eq. 11 of Ndiaye et al.): features provably zero at the
            /// optimum leave the active set for good, their coefficient set to zero.
            func screen(_ g: Double, _ dualNorm: Double) {
                var next: [Int] = []
                let radius = (2 * g).squareRoot() / l1
                for j in 0..<p where !excluded[j] {
                    if norms[j] == 0 { w[j] = 0; excluded[j] = true; continue }
                    let theta = xta[j] / max(l1, dualNorm)
                    let d = (1 - abs(theta)) / (norms[j] + l2).squareRoot()
                    if d <= radius {
                        next.append(j)
                    } else {
                        if w[j] != 0 { update(j, -w[j]); w[j] = 0 }
                        excluded[j] = true
                    }
                }
                active = next
            }

            var (g, dualNorm) = gap()
            if g <= tol { return w }
            if screening { screen(g, dualNorm) }
            for iteration in 0..<maxIterations {
                var largest = 0.0, largestChange = 0.0
                for j in active {
                    if norms[j] == 0 { continue }
                    let old = w[j]
                    let t = q[j] - h[j] + old * norms[j]
                    let shrunk = max(abs(t) - l1, 0)
                    let new = t == 0 ? 0 : (t > 0 ? shrunk : -shrunk) / (norms[j] + l2)
                    w[j] = new
                    if new != old { update(j, new - old) }
                    largestChange = max(largestChange, abs(new - old))
                    largest = max(largest, abs(new))
                }
                if largest == 0 || largestChange / largest <= tolerance || iteration == maxIterations - 1 {
                    (g, dualNorm) = gap()
                    if g <= tol { break }
                    if screening { screen(g, dualNorm) }
                }
            }
            return w
        }
    }
}
