import BERGCore
import Foundation

extension RDM {
    /// The RDM of the rows of `patterns` ([N, P], or [N, ...] flattened per stimulus in C
    /// order), in float64 whatever the stored type:
    ///
    /// - `correlation`: 1 − r, the rows centred and scaled to unit length, as rsatoolbox's
    ///   `calc_rdm(method='correlation')`;
    /// - `cosine`: 1 − cosine similarity;
    /// - `sqeuclidean`: Σ(a−b)², from the Gram matrix of the column-centred patterns (distances
    ///   do not change under a shift, and centring keeps the cancellation small);
    /// - `euclidean`: √Σ(a−b)²;
    /// - `perUnit` divides by P; rsatoolbox's `euclidean` is `sqeuclidean` per unit.
    ///
    /// One BLAS `dsyrk` (the upper triangle of X·Xᵀ) does the work. A pattern of zero length
    /// (correlation: a constant pattern) gives NaN distances, as in rsatoolbox.
    public init(name: String, patterns: Tensor, measure: RDMMeasure) throws {
        try self.init(name: name, matrix: try PatternMatrix(patterns, name: name), measure: measure)
    }

    init(name: String, matrix: PatternMatrix, measure: RDMMeasure) throws {
        let n = matrix.rows
        guard n >= 2 else { throw BERGError.invalidInput("An RDM needs at least 2 stimuli, \(name) has \(n)") }
        let centring: PatternMatrix.Centring
        switch measure.metric {
        case .correlation: centring = .rows(matrix.rowMeans())
        case .cosine: centring = .none
        case .euclidean, .sqeuclidean: centring = .columns(matrix.columnMeans())
        }
        let gram = matrix.gram(centring: centring)
        let scale = measure.perUnit ? 1 / Double(matrix.columns) : 1
        var values = [Double](repeating: 0, count: RDM.pairCount(n))
        var k = 0
        switch measure.metric {
        case .correlation, .cosine:
            let inverseNorms = (0..<n).map { 1 / gram[$0 * n + $0].squareRoot() }
            for i in 0..<n {
                for j in (i + 1)..<n {
                    values[k] = (1 - gram[i * n + j] * inverseNorms[i] * inverseNorms[j]) * scale
                    k += 1
                }
            }
        case .sqeuclidean, .euclidean:
            let root = measure.metric == .euclidean
            for i in 0..<n {
                let gii = gram[i * n + i]
                for j in (i + 1)..<n {
                    let squared = max(0, gii + gram[j * n + j] - 2 * gram[i * n + j])
                    values[k] = (root ? squared.squareRoot() : squared) * scale
                    k += 1
                }
            }
        }
        try self.init(name: name, stimulusCount: n, dissimilarities: values)
    }
}
