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
/// products (see `SubsetPCA`, which also fits it to the folds of a cross-validation): the Gram
/// matrix X·Xᵀ [N, N] when there are fewer samples than features (DNN layers), else Xᵀ·X
/// [P, P]; its K largest eigenpairs are the singular values squared and singular vectors of
/// the centred X.
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

    /// A fitted PCA (`SubsetPCA` makes them): `components` [K, P] row-major, fitted on `samples` rows.
    init(mean: [Double], components: [Double], singularValues: [Double], samples: Int) {
        componentCount = singularValues.count
        self.mean = mean
        self.components = components
        self.singularValues = singularValues
        explainedVariance = singularValues.map { $0 * $0 / Double(samples - 1) }
    }

    /// `components_` as a float64 matrix [K, P].
    var componentMatrix: DenseMatrix { DenseMatrix(rows: componentCount, columns: featureCount, values: components) }

    /// The scores of rows `indices` of `matrix`: (x − mean)·componentsᵀ [indices.count, K].
    func transform(_ matrix: PatternMatrix, rows indices: [Int]) -> DenseMatrix {
        matrix.times(componentMatrix.transposed, rows: indices, shift: mean)
    }

    /// Fits and returns the scores [N, K] row-major.
    mutating func fit(_ matrix: PatternMatrix, name: String) throws -> [Double] {
        let n = matrix.rows, p = matrix.columns, k = componentCount
        guard n >= 2 else { throw BERGError.invalidInput("PCA needs at least 2 samples, \(name) has \(n)") }
        guard k >= 1, k <= min(n, p) else {
            throw BERGError.invalidArgument(name: "PCA components", value: String(k), message: "\(name) has \(n) samples of \(p) features, so 1 to \(min(n, p)) components are possible")
        }
        let (fitted, scores) = try SubsetPCA(features: matrix, componentCount: k).fit(rows: Array(0..<n))
        self = fitted
        return scores.values
    }
}
