import BERGCore
import Foundation

/// scikit-learn's `LinearRegression()` and `Ridge(alpha)` (solver 'auto', which is Cholesky
/// for dense data), fitted with an intercept by centring: in the feature space when there are
/// no more features than training rows, else through the Gram matrix (the dual solution, as
/// `_solve_cholesky_kernel`). In float64.
enum LeastSquares {
    /// `LinearRegression`: the minimum-norm least-squares solution; singular values at or below
    /// 1e-6 × the largest are treated as zero (`scipy.linalg.lstsq(cond=tol)`, tol = 1e-6).
    static let cutoff = 1e-6

    static func linear(_ problem: FitProblem) throws -> FittedReadout {
        try solve(problem) { gram, rhs in
            let eigen = try SymmetricEigenpairs(gram)
            return pseudoInverseTimes(eigen, rhs)
        }
    }

    static func ridge(_ problem: FitProblem, alpha: Double) throws -> FittedReadout {
        try solve(problem) { gram, rhs in
            var shifted = gram
            for i in 0..<gram.rows { shifted.values[i * gram.columns + i] += alpha }
            guard let solution = DenseMatrix.solvePositiveDefinite(shifted, rhs) else {
                throw BERGError.invalidArgument(name: "alpha", value: String(alpha),
                                                message: "the ridge system is not positive definite; use a positive alpha")
            }
            return solution
        }
    }

    /// (eigenvectors · 1/λ · eigenvectorsᵀ) · rhs over the eigenvalues above cutoff² × the largest.
    static func pseudoInverseTimes(_ eigen: SymmetricEigenpairs, _ rhs: DenseMatrix) -> DenseMatrix {
        let largest = eigen.values.first ?? 0
        let kept = eigen.values.prefix { $0 > cutoff * cutoff * largest && $0 > 0 }.count
        let vectors = DenseMatrix(rows: kept, columns: eigen.vectors.columns, values: Array(eigen.vectors.values.prefix(kept * eigen.vectors.columns)))
        var projected = DenseMatrix.product(vectors, rhs)
        for c in 0..<kept { for j in 0..<rhs.columns { projected.values[c * rhs.columns + j] /= eigen.values[c] } }
        return DenseMatrix.product(vectors, projected, transposeA: true)
    }

    /// Fits with `solve(gram, rhs)` = the solution of the (possibly regularised) normal
    /// equations: in the feature space (gram = XcᵀXc, rhs = XcᵀYc) or the dual one
    /// (gram = XcXcᵀ, rhs = Yc, coefficients Xcᵀ·solution).
    static func solve(_ problem: FitProblem, _ solve: (DenseMatrix, DenseMatrix) throws -> DenseMatrix) throws -> FittedReadout {
        let yMean = problem.responseMeans()
        switch problem.features {
        case .dense:
            let (train, test, mean) = problem.centred()
            let coefT: DenseMatrix
            if train.columns <= train.rows {
                coefT = try solve(DenseMatrix.crossProduct(train), problem.crossCovariance(train, responseMeans: yMean))
            } else {
                let dual = try solve(DenseMatrix.product(train, train, transposeB: true),
                                     problem.responses.dense(problem.trainRows, voxels: 0..<problem.voxelCount, shift: yMean))
                coefT = DenseMatrix.product(train, dual, transposeA: true)
            }
            var fitted = FittedReadout(predictions: FitProblem.predictions(test, coefT, means: yMean))
            if problem.wantCoefficients { fitted.setCoefficients(coefT, featureMeans: mean, responseMeans: yMean) }
            return fitted
        case .kernel(let kernel):
            let dual = try solve(kernel.trainGram(), problem.responses.dense(problem.trainRows, voxels: 0..<problem.voxelCount, shift: yMean))
            var fitted = FittedReadout(predictions: FitProblem.predictions(kernel.crossGram(), dual, means: yMean))
            if problem.wantCoefficients {
                let (coefficients, intercept) = kernel.coefficients(dual: dual.values.map(Float.init), voxels: problem.voxelCount,
                                                                    responseMeans: yMean)
                fitted.coefficients = coefficients
                fitted.inputCount = kernel.mean.count
                fitted.intercept = intercept
            }
            return fitted
        }
    }
}

