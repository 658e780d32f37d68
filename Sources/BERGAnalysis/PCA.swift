import BERGCore
import Foundation

/// Principal component analysis with scikit-learn's results for
/// `PCA(n_components=K, svd_solver='full')`: the data centred per feature, no whitening, the
/// components' signs fixed as sklearn's `svd_flip(u_based_decision=False)` fixes them (the
/// largest-magnitude entry of each component is positive).
///
/// ```swift
/// var pca = PCA(componentCount: 100)
/// let scores = try pca.fitTransform(features)   // [N, 100] float64
/// let more = try pca.transform(otherFeatures)
/// ```
///
/// The decomposition is exact, computed in float64 through the smaller of the two symmetric
/// products: the Gram matrix X·Xᵀ [N, N] when there are fewer samples than features (DNN
/// layers), else Xᵀ·X [P, P]; its K largest eigenpairs (LAPACK `dsyevr`) are the singular
/// values squared and singular vectors of the centred X.
public struct PCA: Sendable {
    /// K, `n_components`.
    public let componentCount: Int
    /// `mean_` [P].
    public private(set) var mean: [Double] = []
    /// `components_` [K, P] row-major.
    public private(set) var components: [Double] = []
    /// `explained_variance_`: singular value² / (N − 1).
    public private(set) var explainedVariance: [Double] = []
    /// `singular_values_`.
    public private(set) var singularValues: [Double] = []

    public init(componentCount: Int) {
        self.componentCount = componentCount
    }

    public var isFitted: Bool { !components.isEmpty }
    public var featureCount: Int { mean.count }

    /// `components_` as float64 [K, P].
    public var componentsTensor: Tensor { try! Tensor(shape: [componentCount, featureCount], doubles: components) }

    /// Fits to `x` [N, P] (or [N, ...], flattened per sample).
    public mutating func fit(_ x: Tensor, name: String = "the data") throws {
        _ = try fitTransform(x, name: name)
    }

    /// Fits to `x` and returns its scores, float64 [N, K] (sklearn's `fit_transform`).
    public mutating func fitTransform(_ x: Tensor, name: String = "the data") throws -> Tensor {
        let matrix = try PatternMatrix(x, name: name)
        let scores = try fit(matrix, name: name)
        return try Tensor(shape: [matrix.rows, componentCount], doubles: scores)
    }

    /// The scores of new samples: (x − mean) · componentsᵀ, float64 [N, K].
    public func transform(_ x: Tensor, name: String = "the data") throws -> Tensor {
        guard isFitted else { throw BERGError.invalidInput("This PCA is not fitted yet; call fit first") }
        let matrix = try PatternMatrix(x, name: name)
        guard matrix.columns == featureCount else {
            throw BERGError.shapeMismatch(what: "features of \(name) for a PCA fitted on \(featureCount)",
                                          expected: [matrix.rows, featureCount], actual: x.shape)
        }
        let k = componentCount, p = featureCount
        var transposed = [Double](repeating: 0, count: p * k)
        for c in 0..<k { for j in 0..<p { transposed[j * k + c] = components[c * p + j] } }
        let scores = matrix.times(transposed, columns: k, centring: .columns(mean))
        return try Tensor(shape: [matrix.rows, k], doubles: scores)
    }

    /// Fits and returns the scores [N, K] row-major.
    mutating func fit(_ matrix: PatternMatrix, name: String) throws -> [Double] {
        let n = matrix.rows, p = matrix.columns, k = componentCount
        guard n >= 2 else { throw BERGError.invalidInput("PCA needs at least 2 samples, \(name) has \(n)") }
        guard k >= 1, k <= min(n, p) else {
            throw BERGError.invalidArgument(name: "PCA components", value: String(k), message: "\(name) has \(n) samples of \(p) features, so 1 to \(min(n, p)) components are possible")
        }
        let means = matrix.columnMeans()
        let centring = PatternMatrix.Centring.columns(means)
        var scores: [Double], vt: [Double], squared: [Double]
        if n <= p {
            // X = U S Vᵀ: X·Xᵀ = U S² Uᵀ, scores U·S, components S⁻¹ Uᵀ X.
            let eigen = try SymmetricEigendecomposition(matrix.gram(centring: centring), size: n, largest: k)
            squared = eigen.values.map { max(0, $0) }
            let s = squared.map { $0.squareRoot() }
            scores = [Double](repeating: 0, count: n * k)
            var left = [Double](repeating: 0, count: k * n)
            for c in 0..<k {
                let inverse = s[c] > 0 ? 1 / s[c] : 0
                for i in 0..<n {
                    scores[i * k + c] = eigen.vectors[c][i] * s[c]
                    left[c * n + i] = eigen.vectors[c][i] * inverse
                }
            }
            vt = matrix.leftTimes(left, rows: k, centring: centring)
        } else {
            // Xᵀ·X = V S² Vᵀ: components Vᵀ, scores X·V.
            let eigen = try SymmetricEigendecomposition(matrix.crossProduct(centring: centring), size: p, largest: k)
            squared = eigen.values.map { max(0, $0) }
            vt = eigen.vectors.flatMap { $0 }
            var v = [Double](repeating: 0, count: p * k)
            for c in 0..<k { for j in 0..<p { v[j * k + c] = vt[c * p + j] } }
            scores = matrix.times(v, columns: k, centring: centring)
        }
        // svd_flip(u_based_decision=False): the largest |entry| of each component positive
        // (the first such entry, as NumPy's argmax picks).
        for c in 0..<k {
            var best = 0
            for j in 1..<max(1, p) where abs(vt[c * p + j]) > abs(vt[c * p + best]) { best = j }
            if vt[c * p + best] < 0 {
                for j in 0..<p { vt[c * p + j] = -vt[c * p + j] }
                for i in 0..<n { scores[i * k + c] = -scores[i * k + c] }
            }
        }
        mean = means
        components = vt
        singularValues = squared.map { $0.squareRoot() }
        explainedVariance = squared.map { $0 / Double(n - 1) }
        return scores
    }
}
