import BERGCore
import CBLAS
import Foundation

/// scikit-learn's `RidgeCV(alphas, alpha_per_target=True)`: for each voxel, the alpha with the
/// smallest efficient leave-one-out squared error (ties go to the earlier alpha in the list, as
/// its strict `>` keeps them), then that alpha's ridge solution. As `_RidgeGCV`, through the
/// eigendecomposition of XcᵀXc ("cov", more training rows than features) or of XcXcᵀ ("gram").
///
/// The gram case with many voxels sweeps the alphas with float32 products in the eigenbasis;
/// voxels whose best two alphas' errors lie within `closeCall` of each other are decided again
/// in float64, so the choice is the float64 one.
enum RidgeLeaveOneOut {
    static let closeCall = 1e-4

    /// `closeCall`: how near (relative) the best two alphas' errors must be for a voxel to be
    /// decided again in float64.
    static func fit(_ problem: FitProblem, alphas: [Double], closeCall: Double = closeCall) throws -> FittedReadout {
        switch problem.features {
        case .dense:
            let (train, test, mean) = problem.centred()
            if train.rows <= train.columns {
                var (fitted, dual) = try gramMode(problem, gram: DenseMatrix.product(train, train, transposeB: true),
                                                  cross: DenseMatrix.product(test, train, transposeB: true), alphas: alphas,
                                                  closeCall: closeCall)
                if problem.wantCoefficients {
                    let dualMatrix = DenseMatrix(rows: train.rows, columns: problem.voxelCount, values: dual.map(Double.init))
                    fitted.setCoefficients(DenseMatrix.product(train, dualMatrix, transposeA: true), featureMeans: mean,
                                           responseMeans: problem.responseMeans())
                }
                return fitted
            }
            return try covarianceMode(problem, train: train, test: test, mean: mean, alphas: alphas)
        case .kernel(let kernel):
            var (fitted, dual) = try gramMode(problem, gram: kernel.trainGram(), cross: kernel.crossGram(), alphas: alphas,
                                              closeCall: closeCall)
            if problem.wantCoefficients {
                let (coefficients, intercept) = kernel.coefficients(dual: dual, voxels: problem.voxelCount, responseMeans: problem.responseMeans())
                fitted.coefficients = coefficients
                fitted.inputCount = kernel.mean.count
                fitted.intercept = intercept
            }
            return fitted
        }
    }

    /// Per voxel: the index of the best alpha, given each alpha's leave-one-out errors in turn.
    struct Choice {
        var best: [Int]
        var bestError: [Double]
        var secondError: [Double]

        init(voxels: Int) {
            best = [Int](repeating: -1, count: voxels)
            bestError = [Double](repeating: .infinity, count: voxels)
            secondError = [Double](repeating: .infinity, count: voxels)
        }

        /// sklearn keeps an alpha when its score (−mean squared error) is strictly higher.
        /// Returns the voxels for which this alpha is now the best.
        @discardableResult
        mutating func offer(_ errors: [Double], alpha index: Int) -> [Int] {
            var improved: [Int] = []
            for v in errors.indices {
                let e = errors[v]
                if best[v] < 0 || -e > -bestError[v] {
                    secondError[v] = bestError[v]
                    bestError[v] = e
                    best[v] = index
                    improved.append(v)
                } else if e < secondError[v] {
                    secondError[v] = e
                }
            }
            return improved
        }

        /// Voxels whose best and runner-up errors are within `threshold` (relative).
        func closeCalls(_ threshold: Double) -> [Int] {
            best.indices.filter { v in
                let a = bestError[v], b = secondError[v]
                return b.isFinite && abs(b - a) <= threshold * max(abs(a), abs(b), .leastNormalMagnitude)
            }
        }
    }

    // MARK: - cov mode: eigendecomposition of XcᵀXc [p, p]

    static func covarianceMode(_ problem: FitProblem, train: DenseMatrix, test: DenseMatrix, mean: [Double],
                               alphas: [Double]) throws -> FittedReadout {
        let n = train.rows, p = train.columns, v = problem.voxelCount
        let yMean = problem.responseMeans()
        let eigen = try SymmetricEigenpairs(DenseMatrix.crossProduct(train))
        let xty = problem.crossCovariance(train, responseMeans: yMean)            // [p, V]
        let xtOne = DenseMatrix(rows: p, columns: 1, values: train.columnMeans().map { $0 * Double(n) })
        let y = problem.responses.dense(problem.trainRows, voxels: 0..<v, shift: yMean)
        var choice = Choice(voxels: v)
        var coefficients: [DenseMatrix] = []
        for (index, alpha) in alphas.enumerated() {
            // Hinv = V·diag(1/(λ+α))·Vᵀ.
            var scaled = eigen.vectors
            for k in 0..<p { for j in 0..<p { scaled.values[k * p + j] /= (eigen.values[k] + alpha) } }
            let inverse = DenseMatrix.product(eigen.vectors, scaled, transposeA: true)
            let coef = DenseMatrix.product(inverse, xty)                          // Hinv·Xᵀy [p, V]
            let fitted = DenseMatrix.product(train, coef)                         // [n, V]
            let leverage = DenseMatrix.product(train, inverse)                    // X·Hinv [n, p]
            let oneTerm = DenseMatrix.product(leverage, xtOne)                    // X·Hinv·Xᵀ1 [n, 1]
            var denominators = [Double](repeating: 0, count: n)
            for i in 0..<n {
                var h = 0.0
                for k in 0..<p { h += leverage.values[i * p + k] * train.values[i * p + k] }
                denominators[i] = 1 - h - (1 - oneTerm.values[i]) / Double(n)
            }
            var errors = [Double](repeating: 0, count: v)
            for i in 0..<n {
                for j in 0..<v {
                    let e = (y.values[i * v + j] - fitted.values[i * v + j]) / denominators[i]
                    errors[j] += e * e
                }
            }
            choice.offer(errors.map { $0 / Double(n) }, alpha: index)
            coefficients.append(coef)
        }
        var coefT = DenseMatrix(zeros: p, v)
        for j in 0..<v { for k in 0..<p { coefT.values[k * v + j] = coefficients[choice.best[j]].values[k * v + j] } }
        var out = FittedReadout(predictions: FitProblem.predictions(test, coefT, means: yMean))
        out.alphas = choice.best.map { alphas[$0] }
        if problem.wantCoefficients { out.setCoefficients(coefT, featureMeans: mean, responseMeans: yMean) }
        return out
    }

    // MARK: - gram mode: eigendecomposition of XcXcᵀ [n, n]

    /// Returns the predictions and the alphas, and the dual solution [n, V] (float32), which
    /// the caller turns into feature-space coefficients.
    static func gramMode(_ problem: FitProblem, gram: consuming DenseMatrix, cross: DenseMatrix,
                         alphas: [Double], closeCall: Double) throws -> (FittedReadout, dual: [Float]) {
        let n = gram.rows, m = cross.rows, v = problem.voxelCount
        let yMean = problem.responseMeans()
        let eigen = try SymmetricEigenpairs(gram)                                 // rows of U: eigenvectors
        let basis = eigen.vectors.values.map(Float.init)                          // U [n, n], float32
        var rotated = [Float](repeating: 0, count: n * v)                         // Uᵀ… = Qᵀ·y
        do {
            let y = problem.responses.centredFloats(problem.trainRows, shift: yMean)  // [n, V]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(v), Int32(n), 1, basis, Int32(n), y, Int32(v),
                        0, &rotated, Int32(v))
        }
        var ones = [Double](repeating: 0, count: n)                               // Qᵀ·1
        for k in 0..<n { var s = 0.0; for i in 0..<n { s += eigen.vectors.values[k * n + i] }; ones[k] = s }

        let denominators = alphas.map { alpha in gramDenominators(eigen, eigen.values.map { 1 / ($0 + alpha) }, ones) }
        // Each alpha's dual solutions Q·diag(1/(λ+α))·Qᵀy, in float32; the best one so far of
        // each voxel is kept in `dual`.
        var choice = Choice(voxels: v)
        var scaled = [Float](repeating: 0, count: n * v)
        var candidate = [Float](repeating: 0, count: n * v)
        var dual = [Float](repeating: 0, count: n * v)
        for (index, alpha) in alphas.enumerated() {
            for k in 0..<n {
                let factor = Float(1 / (eigen.values[k] + alpha))
                for j in 0..<v { scaled[k * v + j] = rotated[k * v + j] * factor }
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(v), Int32(n), 1, basis, Int32(n), scaled, Int32(v),
                        0, &candidate, Int32(v))
            let improved = choice.offer(looErrors(candidate, denominators[index], voxels: v), alpha: index)
            if improved.count == v {
                swap(&dual, &candidate)
            } else if !improved.isEmpty {
                for i in 0..<n { for j in improved { dual[i * v + j] = candidate[i * v + j] } }
            }
        }
        scaled = []
        candidate = []
        rotated = []
        // Close calls again in float64, all of them in one product per alpha.
        let close = choice.closeCalls(closeCall)
        if !close.isEmpty {
            var y = DenseMatrix(zeros: n, close.count)
            for (r, i) in problem.trainRows.enumerated() {
                for (c, j) in close.enumerated() { y.values[r * close.count + c] = Double(problem.responses.values[i * v + j]) - yMean[j] }
            }
            let inBasis = DenseMatrix.product(eigen.vectors, y)
            var bestError = [Double](repeating: .infinity, count: close.count), bestIndex = [Int](repeating: -1, count: close.count)
            var bestDual = DenseMatrix(zeros: n, close.count)
            for (index, alpha) in alphas.enumerated() {
                var scaledColumns = inBasis
                for k in 0..<n {
                    let factor = 1 / (eigen.values[k] + alpha)
                    for c in 0..<close.count { scaledColumns.values[k * close.count + c] *= factor }
                }
                let c = DenseMatrix.product(eigen.vectors, scaledColumns, transposeA: true)
                for column in 0..<close.count {
                    var error = 0.0
                    for i in 0..<n { let e = c.values[i * close.count + column] / denominators[index][i]; error += e * e }
                    error /= Double(n)
                    if bestIndex[column] < 0 || -error > -bestError[column] {
                        bestIndex[column] = index
                        bestError[column] = error
                        for i in 0..<n { bestDual.values[i * close.count + column] = c.values[i * close.count + column] }
                    }
                }
            }
            for (column, j) in close.enumerated() {
                choice.best[j] = bestIndex[column]
                for i in 0..<n { dual[i * v + j] = Float(bestDual.values[i * close.count + column]) }
            }
        }
        // Predictions: cross·dual + ȳ (float32 product).
        var predictions = [Float](repeating: 0, count: m * v)
        if m > 0 {
            let crossFloats = cross.values.map(Float.init)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(v), Int32(n), 1, crossFloats, Int32(n),
                        dual, Int32(v), 0, &predictions, Int32(v))
            for i in 0..<m { for j in 0..<v { predictions[i * v + j] += Float(yMean[j]) } }
        }
        var out = FittedReadout(predictions: predictions, alphas: choice.best.map { alphas[$0] })
        out.recheckedVoxels = close.count
        return (out, dual)
    }

    /// d_i = [G⁻¹]_ii − [G⁻¹·1]_i / n with G⁻¹ = Q·diag(d)·Qᵀ (the intercept's correction).
    static func gramDenominators(_ eigen: SymmetricEigenpairs, _ d: [Double], _ ones: [Double]) -> [Double] {
        let n = eigen.values.count
        var out = [Double](repeating: 0, count: n)
        eigen.vectors.values.withUnsafeBufferPointer { u in
            for k in 0..<n {
                let dk = d[k], weight = d[k] * ones[k] / Double(n)
                let row = u.baseAddress! + k * n
                for i in 0..<n { out[i] += row[i] * (row[i] * dk - weight) }
            }
        }
        return out
    }

    /// Mean over rows of (dual_iv / d_i)², per voxel.
    static func looErrors(_ dual: [Float], _ denominators: [Double], voxels v: Int) -> [Double] {
        let n = denominators.count
        var errors = [Double](repeating: 0, count: v)
        dual.withUnsafeBufferPointer { c in
            for i in 0..<n {
                let inverse = 1 / denominators[i]
                for j in 0..<v { let e = Double(c[i * v + j]) * inverse; errors[j] += e * e }
            }
        }
        return errors.map { $0 / Double(n) }
    }
}
