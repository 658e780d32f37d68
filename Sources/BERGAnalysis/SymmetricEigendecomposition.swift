import BERGCore
import CBLAS
import Foundation

/// The largest eigenvalues of a symmetric matrix and their eigenvectors, by LAPACK's
/// `dsyevr` (the one OpenBLAS ships).
struct SymmetricEigendecomposition {
    /// Largest first.
    var values: [Double]
    /// vectors[k] is the unit eigenvector of values[k].
    var vectors: [[Double]]

    /// The `count` largest eigenpairs of the n × n matrix `matrix` (row-major; only its upper
    /// triangle is read).
    init(_ matrix: [Double], size n: Int, largest count: Int) throws {
        precondition(matrix.count == n * n && count >= 1 && count <= n)
        // Row-major upper is column-major lower: tell LAPACK "L".
        var a = matrix
        var jobz: CChar = 86 /* V */, range: CChar = 73 /* I */, uplo: CChar = 76 /* L */
        var order = Int32(n), lda = Int32(n), ldz = Int32(n)
        var lower = Int32(n - count + 1), upper = Int32(n)
        var vl = 0.0, vu = 0.0, tolerance = 0.0
        var found: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * count)
        var support = [Int32](repeating: 0, count: 2 * max(1, count))
        // A workspace query first, then the decomposition.
        var workSize: Double = 0, iworkSize: Int32 = 0, workQuery: Int32 = -1, iworkQuery: Int32 = -1
        dsyevr_(&jobz, &range, &uplo, &order, &a, &lda, &vl, &vu, &lower, &upper, &tolerance, &found, &w, &z, &ldz,
                &support, &workSize, &workQuery, &iworkSize, &iworkQuery, &info, 1, 1, 1)
        guard info == 0 else { throw BERGError.unsupported("LAPACK dsyevr failed its workspace query (info \(info))") }
        var lwork = Int32(workSize), liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(&jobz, &range, &uplo, &order, &a, &lda, &vl, &vu, &lower, &upper, &tolerance, &found, &w, &z, &ldz,
                &support, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0, Int(found) == count else {
            throw BERGError.unsupported("LAPACK dsyevr did not converge (info \(info), \(found) of \(count) eigenvalues)")
        }
        // dsyevr gives them in ascending order, each vector a column of z.
        values = (0..<count).reversed().map { w[$0] }
        vectors = (0..<count).reversed().map { Array(z[($0 * n) ..< ($0 * n + n)]) }
    }
}
