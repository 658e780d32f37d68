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

    static func fit(_ problem: FitProblem, alphas: [Double]) throws -> FittedReadout {
        switch problem.features {
        case .dense:
            let (train, test, mean) = problem.centred()
            if train.rows <= train.columns {
                let gram = DenseMatrix.product(train, train, transposeB: true)
                let cross = DenseMatrix.product(test, train, transposeB: true)
                var fitted = try gramMode(problem, gram: gram, cross: cross, alphas: alphas)
                if problem.wantCoefficients, let dual = fitted.coefficients {
                    let (coefficients, intercept) = FitProblem.readout(DenseMatrix.product(train, dual, transposeA: true),
                                                                       featureMeans: mean, responseMeans: problem.responseMeans())
                    fitted.coefficients = coefficients
                    fitted.intercept = intercept
                }
                return fitted
            }
            return try covarianceMode(problem, train: train, test: test, mean: mean, alphas: alphas)
        case .kernel(let kernel):
            var fitted = try gramMode(problem, gram: kernel.train, cross: kernel.test, alphas: alphas)
            if problem.wantCoefficients, let dual = fitted.coefficients {
                let coefficients = kernel.coefficients(dual: dual)
                fitted.intercept = FitProblem.intercepts(coefficients, featureMeans: kernel.mean, responseMeans: problem.responseMeans())
                fitted.coefficients = coefficients
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
        mutating func offer(_ errors: [Double], alpha index: Int) {
            for v in errors.indices {
                let e = errors[v]
                if best[v] < 0 || -e > -bestError[v] {
                    secondError[v] = bestError[v]
                    bestError[v] = e
                    best[v] = index
                } else if e < secondError[v] {
                    secondError[v] = e
                }
            }
        }

        /// Voxels whose best and runner-up errors are within `closeCall` (relative).
        func closeCalls() -> [Int] {
            best.indices.filter { v in
                let a = bestError[v], b = secondError[v]
                return b.isFinite && abs(b - a) <= RidgeLeaveOneOut.closeCall * max(abs(a), abs(b), .leastNormalMagnitude)
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
        if problem.wantCoefficients {
            let (c, intercept) = FitProblem.readout(coefT, featureMeans: mean, responseMeans: yMean)
            out.coefficients = c
            out.intercept = intercept
        }
        return out
    }

    // MARK: - gram mode: eigendecomposition of XcXcᵀ [n, n]

    /// Returns the predictions, the alphas, and the dual solution [n, V] as `coefficients`
    /// (the caller turns it into feature-space coefficients).
    static func gramMode(_ problem: FitProblem, gram: DenseMatrix, cross: DenseMatrix, alphas: [Double]) throws -> FittedReadout {
        let n = gram.rows, m = cross.rows, v = problem.voxelCount
        let yMean = problem.responseMeans()
        let eigen = try SymmetricEigenpairs(gram)                                 // rows of U: eigenvectors
        let basis = eigen.vectors.values.map(Float.init)                          // U [n, n], float32
        let y = problem.responses.centredFloats(problem.trainRows, shift: yMean)  // [n, V]
        var rotated = [Float](repeating: 0, count: n * v)                         // Uᵀ… = Qᵀ·y
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(v), Int32(n), 1, basis, Int32(n), y, Int32(v),
                    0, &rotated, Int32(v))
        var ones = [Double](repeating: 0, count: n)                               // Qᵀ·1
        for k in 0..<n { var s = 0.0; for i in 0..<n { s += eigen.vectors.values[k * n + i] }; ones[k] = s }

        var choice = Choice(voxels: v)
        var scaled = [Float](repeating: 0, count: n * v)
        var dual = [Float](repeating: 0, count: n * v)
        for (index, alpha) in alphas.enumerated() {
            let d = eigen.values.map { 1 / ($0 + alpha) }
            let denominators = gramDenominators(eigen, d, ones)
            for k in 0..<n {
                let factor = Float(d[k])
                for j in 0..<v { scaled[k * v + j] = rotated[k * v + j] * factor }
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(v), Int32(n), 1, basis, Int32(n), scaled, Int32(v),
                        0, &dual, Int32(v))
            choice.offer(looErrors(dual, denominators, voxels: v), alpha: index)
        }
        // The chosen alpha's dual solution for every voxel at once.
        let chosen = choice.best.map { alphas[$0] }
        for k in 0..<n {
            for j in 0..<v { scaled[k * v + j] = rotated[k * v + j] * Float(1 / (eigen.values[k] + chosen[j])) }
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(v), Int32(n), 1, basis, Int32(n), scaled, Int32(v),
                    0, &dual, Int32(v))
        var solution = DenseMatrix(rows: n, columns: v, values: dual.map(Double.init))
        // Close calls again in float64, voxel by voxel.
        let close = choice.closeCalls()
        if !close.isEmpty {
            let precise = problem.responses.dense(problem.trainRows, voxels: 0..<v, shift: yMean)
            for j in close {
                var column = DenseMatrix(zeros: n, 1)
                for i in 0..<n { column.values[i] = precise.values[i * v + j] }
                let inBasis = DenseMatrix.product(eigen.vectors, column)
                var bestIndex = -1, bestError = Double.infinity, bestDual = DenseMatrix(zeros: n, 1)
                for (index, alpha) in alphas.enumerated() {
                    let d = eigen.values.map { 1 / ($0 + alpha) }
                    var scaledColumn = inBasis
                    for k in 0..<n { scaledColumn.values[k] *= d[k] }
                    let c = DenseMatrix.product(eigen.vectors, scaledColumn, transposeA: true)
                    let denominators = gramDenominators(eigen, d, ones)
                    var error = 0.0
                    for i in 0..<n { let e = c.values[i] / denominators[i]; error += e * e }
                    error /= Double(n)
                    if bestIndex < 0 || -error > -bestError { bestIndex = index; bestError = error; bestDual = c }
                }
                choice.best[j] = bestIndex
                for i in 0..<n { solution.values[i * v + j] = bestDual.values[i] }
            }
        }
        // Predictions: cross·dual + ȳ (float32 product).
        let crossFloats = cross.values.map(Float.init)
        let dualFloats = solution.values.map(Float.init)
        var predictions = [Float](repeating: 0, count: m * v)
        if m > 0 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(v), Int32(n), 1, crossFloats, Int32(n),
                        dualFloats, Int32(v), 0, &predictions, Int32(v))
            for i in 0..<m { for j in 0..<v { predictions[i * v + j] += Float(yMean[j]) } }
        }
        var out = FittedReadout(predictions: predictions)
        out.alphas = choice.best.map { alphas[$0] }
        if problem.wantCoefficients { out.coefficients = solution }
        return out
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
