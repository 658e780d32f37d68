import BERGCore
import Foundation

/// PCA of many row subsets of one feature matrix (the cross-validation folds and the refit on
/// all rows), from one float64 product of the whole matrix computed once:
///
/// - fewer rows than features (DNN layers): the Gram matrix X·Xᵀ [N, N]. A subset's centred
///   Gram is its block, double-centred; its K largest eigenpairs give U and S² of the centred
///   subset, and the components are S⁻¹·Uᵀ·X.
/// - more rows than features: Xᵀ·X [P, P]. A subset's centred cross product is the whole minus
///   the left-out rows' outer products, corrected for the subset's mean; its eigenvectors are
///   the components.
///
/// Both are exact in float64 (the eigenpairs by `TopEigenpairs`), and match a full SVD of the
/// centred subset to rounding.
final class SubsetPCA: @unchecked Sendable {
    let features: PatternMatrix
    let componentCount: Int
    /// X·Xᵀ [N, N] of the rows shifted by their mean, when there are fewer rows than features.
    let gram: SharedGram?
    /// Otherwise Xᵀ·X [P, P] of the shifted rows.
    let crossProduct: DenseMatrix?
    /// The mean of all rows, subtracted before the product so that it carries no offset.
    let shift: [Double]

    /// `gram`, when given, is the shared Gram of these features (the kernel readouts use it too).
    init(features: PatternMatrix, componentCount: Int, gram: SharedGram? = nil) {
        self.features = features
        self.componentCount = componentCount
        if features.rows <= features.columns {
            let shared = gram ?? SharedGram(features: features)
            self.gram = shared
            crossProduct = nil
            shift = shared.shift
        } else {
            self.gram = nil
            shift = features.columnMeans()
            crossProduct = features.crossProduct(shift: shift)
        }
    }

    /// The PCA of rows `train` (sorted ascending) and its scores of those rows, U·S [n, K]
    /// (`fit_transform`). `warmStart`, another subset's fit, speeds up the iterative eigensolver.
    func fit(rows train: [Int], warmStart: PCA? = nil,
             directLimit: Int = TopEigenpairs.directLimit) throws -> (pca: PCA, scores: DenseMatrix) {
        let n = train.count, p = features.columns, k = componentCount
        guard k >= 1, k <= min(n, p) else {
            throw BERGError.shapeMismatch(what: "PCA with \(k) components of \(n) training rows × \(p) features (it needs K ≤ both)",
                                          expected: [min(n, p)], actual: [k])
        }
        let mean = features.columnMeans(train)
        let offset = zip(mean, shift).map { $0 - $1 }  // the subset's mean, shifted
        var components: DenseMatrix
        var singular: [Double]
        var scores: DenseMatrix
        if let shared = gram {
            let start = warmStart.map { $0.transform(features, rows: train) }
            let eigen = try TopEigenpairs.compute(shared.centredGram(train), count: k, start: start, directLimit: directLimit)
            singular = eigen.values.map { max(0, $0).squareRoot() }
            // components = S⁻¹·Uᵀ·(X − mean), scores = U·S.
            var left = eigen.vectors
            for c in 0..<k {
                let inverse = singular[c] > 0 ? 1 / singular[c] : 0
                for a in 0..<n { left.values[c * n + a] *= inverse }
            }
            components = features.leftTimes(left, rows: train, shift: mean)
            scores = DenseMatrix(zeros: n, k)
            for c in 0..<k { for a in 0..<n { scores.values[a * k + c] = eigen.vectors.values[c * n + a] * singular[c] } }
        } else {
            // Σ over the subset = Σ over all − Σ over the rest; then centre on the subset's mean.
            var covariance = crossProduct!
            let inSubset = Set(train)
            let rest = (0..<features.rows).filter { !inSubset.contains($0) }
            if !rest.isEmpty {
                let shifted = features.dense(rest, shift: shift)
                let restProduct = DenseMatrix.crossProduct(shifted)
                for i in covariance.values.indices { covariance.values[i] -= restProduct.values[i] }
            }
            for i in 0..<p { for j in 0..<p { covariance.values[i * p + j] -= Double(n) * offset[i] * offset[j] } }
            let start = warmStart.map { $0.componentMatrix.transposed }
            let eigen = try TopEigenpairs.compute(covariance, count: k, start: start, directLimit: directLimit)
            singular = eigen.values.map { max(0, $0).squareRoot() }
            components = eigen.vectors
            scores = DenseMatrix(zeros: 0, k)
        }
        // svd_flip(u_based_decision=False).
        var flipped = [Bool](repeating: false, count: k)
        for c in 0..<k {
            var best = 0
            for j in 1..<max(1, p) where abs(components.values[c * p + j]) > abs(components.values[c * p + best]) { best = j }
            if components.values[c * p + best] < 0 {
                flipped[c] = true
                for j in 0..<p { components.values[c * p + j] = -components.values[c * p + j] }
            }
        }
        if gram != nil {
            for c in 0..<k where flipped[c] { for a in 0..<n { scores.values[a * k + c] = -scores.values[a * k + c] } }
        } else {
            scores = features.times(components.transposed, rows: train, shift: mean)
        }
        return (PCA(mean: mean, components: components.values, singularValues: singular, samples: n), scores)
    }
}
