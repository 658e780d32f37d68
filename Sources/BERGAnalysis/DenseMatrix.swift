import BERGCore
import CBLAS
import Foundation

/// A row-major float64 matrix: the estimators' working type, with the BLAS and LAPACK calls
/// they need.
struct DenseMatrix: Sendable, Equatable {
    var rows: Int
    var columns: Int
    var values: [Double]

    init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "DenseMatrix: \(values.count) values for \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    var transposed: DenseMatrix {
        var out = DenseMatrix(zeros: columns, rows)
        for i in 0..<rows { for j in 0..<columns { out.values[j * rows + i] = values[i * columns + j] } }
        return out
    }

    /// The rows at `indices`, in that order.
    func rows(_ indices: [Int]) -> DenseMatrix {
        var out = [Double]()
        out.reserveCapacity(indices.count * columns)
        for i in indices { out.append(contentsOf: values[(i * columns) ..< ((i + 1) * columns)]) }
        return DenseMatrix(rows: indices.count, columns: columns, values: out)
    }

    /// The mean of each column.
    func columnMeans() -> [Double] {
        var sums = [Double](repeating: 0, count: columns)
        for i in 0..<rows { for j in 0..<columns { sums[j] += values[i * columns + j] } }
        return sums.map { rows > 0 ? $0 / Double(rows) : 0 }
    }

    /// Subtracts `vector` from every row.
    mutating func subtractFromRows(_ vector: [Double]) {
        for i in 0..<rows { for j in 0..<columns { values[i * columns + j] -= vector[j] } }
    }

    /// op(a) · op(b) · alpha (op = transpose when asked), by dgemm.
    static func product(_ a: DenseMatrix, _ b: DenseMatrix, transposeA: Bool = false, transposeB: Bool = false,
                        alpha: Double = 1) -> DenseMatrix {
        let m = transposeA ? a.columns : a.rows, k = transposeA ? a.rows : a.columns
        let n = transposeB ? b.rows : b.columns
        precondition(k == (transposeB ? b.columns : b.rows), "DenseMatrix.product: inner sizes differ")
        var out = DenseMatrix(zeros: m, n)
        guard m > 0, n > 0 else { return out }
        if k == 0 { return out }
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a.values, Int32(a.columns), b.values, Int32(b.columns),
                    0, &out.values, Int32(n))
        return out
    }

    /// aᵀ·a (Gram of the columns), by dsyrk, both triangles filled.
    static func crossProduct(_ a: DenseMatrix) -> DenseMatrix {
        var out = DenseMatrix(zeros: a.columns, a.columns)
        guard a.rows > 0, a.columns > 0 else { return out }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(a.columns), Int32(a.rows), 1, a.values, Int32(a.columns),
                    0, &out.values, Int32(a.columns))
        out.fillLowerFromUpper()
        return out
    }

    /// Copies the upper triangle onto the lower one.
    mutating func fillLowerFromUpper() {
        let n = rows
        values.withUnsafeMutableBufferPointer { v in
            for i in 0..<n { for j in 0..<i { v[i * n + j] = v[j * n + i] } }
        }
    }
}

/// Eigenpairs of a symmetric matrix, largest first: `vectors` row k is the unit eigenvector of
/// `values[k]`.
struct SymmetricEigenpairs: Sendable {
    var values: [Double]
    var vectors: DenseMatrix

    /// The `count` largest eigenpairs (all when nil) of the symmetric matrix `a`: LAPACK's
    /// `dsyevr` for some, `dsyevd` (divide and conquer, several times faster than MRRR here)
    /// for all. Both overwrite their input: pass a matrix that is not needed afterwards to
    /// avoid a copy.
    init(_ a: consuming DenseMatrix, largest count: Int? = nil) throws {
        let n = a.rows
        precondition(a.columns == n)
        let k = min(count ?? n, n)
        guard n > 0, k > 0 else {
            values = []
            vectors = DenseMatrix(zeros: 0, n)
            return
        }
        var matrix = a.values
        a = DenseMatrix(zeros: 0, 0)
        (values, vectors) = k == n ? try Self.all(&matrix, size: n) : try Self.largest(&matrix, size: n, count: k)
    }

    /// The `k` largest eigenpairs by `dsyevr`.
    private static func largest(_ matrix: inout [Double], size n: Int, count k: Int) throws -> ([Double], DenseMatrix) {
        var jobz: CChar = 86 /* V */, range: CChar = k == n ? 65 /* A */ : 73 /* I */, uplo: CChar = 76 /* L */
        var order = Int32(n), lda = Int32(n), ldz = Int32(n)
        var lower = Int32(n - k + 1), upper = Int32(n)
        var vl = 0.0, vu = 0.0, tolerance = 0.0
        var found: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * k)
        var support = [Int32](repeating: 0, count: 2 * max(1, n))
        var workSize = 0.0, iworkSize: Int32 = 0, query: Int32 = -1, iquery: Int32 = -1
        dsyevr_(&jobz, &range, &uplo, &order, &matrix, &lda, &vl, &vu, &lower, &upper, &tolerance, &found, &w, &z, &ldz,
                &support, &workSize, &query, &iworkSize, &iquery, &info, 1, 1, 1)
        guard info == 0 else { throw BERGError.unsupported("LAPACK dsyevr failed its workspace query (info \(info))") }
        var lwork = Int32(workSize), liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(&jobz, &range, &uplo, &order, &matrix, &lda, &vl, &vu, &lower, &upper, &tolerance, &found, &w, &z, &ldz,
                &support, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0, Int(found) == k else {
            throw BERGError.unsupported("LAPACK dsyevr did not converge (info \(info), \(found) of \(k) eigenvalues)")
        }
        matrix = []
        // Ascending, each vector a contiguous column of z (column-major), so z read row-major
        // has one eigenvector per row: reverse the rows in place, largest first.
        let values: [Double] = (0..<k).reversed().map { w[$0] }
        z.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for row in 0..<(k / 2) {
                let other = k - 1 - row
                for i in 0..<n { swap(&base[row * n + i], &base[other * n + i]) }
            }
        }
        return (values, DenseMatrix(rows: k, columns: n, values: z))
    }

    /// Every eigenpair of the n × n symmetric `matrix` by `dsyevd`; the matrix becomes the
    /// eigenvectors, one per row (column-major columns read row-major), largest first.
    private static func all(_ matrix: inout [Double], size n: Int) throws -> ([Double], DenseMatrix) {
        var jobz: CChar = 86 /* V */, uplo: CChar = 76 /* L */
        var order = Int32(n), lda = Int32(n), info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var workSize = 0.0, iworkSize: Int32 = 0, query: Int32 = -1, iquery: Int32 = -1
        dsyevd_(&jobz, &uplo, &order, &matrix, &lda, &w, &workSize, &query, &iworkSize, &iquery, &info, 1, 1)
        guard info == 0 else { throw BERGError.unsupported("LAPACK dsyevd failed its workspace query (info \(info))") }
        var lwork = Int32(workSize), liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &order, &matrix, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw BERGError.unsupported("LAPACK dsyevd did not converge (info \(info))") }
        work = []
        matrix.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for row in 0..<(n / 2) {
                let other = n - 1 - row
                for i in 0..<n { swap(&base[row * n + i], &base[other * n + i]) }
            }
        }
        return (w.reversed(), DenseMatrix(rows: n, columns: n, values: matrix))
    }

    init(values: [Double], vectors: DenseMatrix) {
        self.values = values
        self.vectors = vectors
    }
}

extension DenseMatrix {
    /// Solves a·x = b for a symmetric positive definite `a` (n × n) and `b` (n × r), by Cholesky.
    /// Nil when `a` is not positive definite.
    static func solvePositiveDefinite(_ a: DenseMatrix, _ b: DenseMatrix) -> DenseMatrix? {
        let n = a.rows
        guard n > 0 else { return b }
        var factor = a.values
        var uplo: CChar = 76, order = Int32(n), lda = Int32(n), info: Int32 = 0
        dpotrf_(&uplo, &order, &factor, &lda, &info, 1)
        guard info == 0 else { return nil }
        // Column-major right-hand sides: bᵀ in row-major memory.
        var rhs = b.transposed.values
        var count = Int32(b.columns), ldb = Int32(n)
        dpotrs_(&uplo, &order, &count, factor, &lda, &rhs, &ldb, &info, 1)
        guard info == 0 else { return nil }
        return DenseMatrix(rows: b.columns, columns: n, values: rhs).transposed
    }

    /// The inverse of a square matrix by LU; nil when singular.
    func inverse() -> DenseMatrix? {
        let n = rows
        var a = transposed.values  // column-major
        var identity = [Double](repeating: 0, count: n * n)
        for i in 0..<n { identity[i * n + i] = 1 }
        var order = Int32(n), lda = Int32(n), ldb = Int32(n), info: Int32 = 0, nrhs = Int32(n)
        var pivots = [Int32](repeating: 0, count: n)
        dgesv_(&order, &nrhs, &a, &lda, &pivots, &identity, &ldb, &info)
        guard info == 0 else { return nil }
        return DenseMatrix(rows: n, columns: n, values: identity).transposed
    }
}
