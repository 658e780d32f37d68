import BERGCore
import CBLAS
import Foundation

/// The largest eigenpairs of a symmetric positive semi-definite matrix, to full float64
/// accuracy: LAPACK's `dsyevr` for small matrices; for large ones a restarted block Krylov
/// method with Rayleigh–Ritz, iterated until every wanted pair's residual ‖A·u − θ·u‖ is below
/// `tolerance` · θ₁ (the same pairs a full decomposition gives, at a fraction of its cost,
/// since LAPACK's tridiagonal reduction of an 8,000-square matrix alone takes half a minute).
/// A start block (such as the previous fold's components seen from these rows) makes it
/// converge in a cycle or two. Falls back to `dsyevr` if it does not converge.
enum TopEigenpairs {
    /// Up to this size the direct decomposition is cheaper than the iteration.
    static let directLimit = 1_500
    static let tolerance = 1e-11
    static let maxCycles = 40

    static func compute(_ a: DenseMatrix, count k: Int, start: DenseMatrix? = nil,
                        directLimit: Int = directLimit) throws -> SymmetricEigenpairs {
        let n = a.rows
        let blockSize = min(n, k + max(16, k / 4))
        let depth = 3
        if n <= directLimit || (depth + 1) * blockSize * 2 > n {
            return try SymmetricEigenpairs(a, largest: k)
        }
        var generator = Xoshiro256StarStar(seed: 0x5EED_0014)
        // The first block: the start vectors, then random ones, orthonormalised.
        var block = DenseMatrix(zeros: n, blockSize)
        let given = min(start?.columns ?? 0, blockSize)
        for i in 0..<n {
            for j in 0..<blockSize {
                block[i, j] = j < given ? start![i, j] : generator.nextGaussian()
            }
        }
        orthonormaliseColumns(&block, against: nil, generator: &generator)
        let width = (depth + 1) * blockSize
        // a · block, when known: after a restart the block is the Ritz vectors, whose image
        // the Rayleigh–Ritz step has already made.
        var blockImage: DenseMatrix? = nil
        for _ in 0..<maxCycles {
            var basis = DenseMatrix(zeros: n, width)
            var image = DenseMatrix(zeros: n, width)  // a · basis
            setColumns(&basis, at: 0, from: block)
            for j in 0...depth {
                let columns = (j * blockSize) ..< ((j + 1) * blockSize)
                if j == 0, let known = blockImage {
                    setColumns(&image, at: 0, from: known)
                } else {
                    multiply(a, basis, columns: columns, into: &image)
                }
                guard j < depth else { break }
                var next = columnsOf(image, columns)
                orthonormaliseColumns(&next, against: (basis, columns.upperBound), generator: &generator)
                setColumns(&basis, at: columns.upperBound, from: next)
            }
            // Rayleigh–Ritz on the Krylov space.
            var projected = DenseMatrix.product(basis, image, transposeA: true)
            for i in 0..<width { for j in 0..<i { let m = 0.5 * (projected[i, j] + projected[j, i]); projected[i, j] = m; projected[j, i] = m } }
            let ritz = try SymmetricEigenpairs(projected, largest: blockSize)
            let coefficients = ritz.vectors.transposed  // width × blockSize
            let vectors = DenseMatrix.product(basis, coefficients)
            let images = DenseMatrix.product(image, coefficients)
            let scale = max(ritz.values.first ?? 0, .leastNormalMagnitude)
            var worst = 0.0
            for c in 0..<k {
                var squared = 0.0
                for i in 0..<n { let r = images[i, c] - ritz.values[c] * vectors[i, c]; squared += r * r }
                worst = max(worst, squared.squareRoot() / scale)
            }
            if worst <= tolerance {
                var rowsOut = DenseMatrix(zeros: k, n)
                for c in 0..<k { for i in 0..<n { rowsOut[c, i] = vectors[i, c] } }
                return SymmetricEigenpairs(values: Array(ritz.values.prefix(k)), vectors: rowsOut)
            }
            block = vectors
            blockImage = images
        }
        return try SymmetricEigenpairs(a, largest: k)
    }

    /// image[:, columns] = a · basis[:, columns] (dsymm on the strided column block).
    static func multiply(_ a: DenseMatrix, _ basis: DenseMatrix, columns: Range<Int>, into image: inout DenseMatrix) {
        let n = a.rows, ld = basis.columns
        basis.values.withUnsafeBufferPointer { b in
            image.values.withUnsafeMutableBufferPointer { out in
                cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, Int32(n), Int32(columns.count), 1, a.values, Int32(n),
                            b.baseAddress! + columns.lowerBound, Int32(ld), 0, out.baseAddress! + columns.lowerBound, Int32(ld))
            }
        }
    }

    static func columnsOf(_ m: DenseMatrix, _ columns: Range<Int>) -> DenseMatrix {
        var out = DenseMatrix(zeros: m.rows, columns.count)
        for i in 0..<m.rows { for (j, c) in columns.enumerated() { out[i, j] = m[i, c] } }
        return out
    }

    static func setColumns(_ m: inout DenseMatrix, at start: Int, from block: DenseMatrix) {
        for i in 0..<m.rows { for j in 0..<block.columns { m[i, start + j] = block[i, j] } }
    }

    /// Makes the columns of `block` orthonormal and, when given, orthogonal to the first
    /// `count` columns of `basis`: twice (block Gram–Schmidt against the basis, then modified
    /// Gram–Schmidt within the block). A column that vanishes (the space is exhausted) is
    /// replaced by a random one.
    static func orthonormaliseColumns(_ block: inout DenseMatrix, against previous: (basis: DenseMatrix, count: Int)?,
                                      generator: inout Xoshiro256StarStar) {
        let n = block.rows, b = block.columns
        for _ in 0..<2 {
            if let (basis, count) = previous, count > 0 {
                // block −= Q·(Qᵀ·block) with Q the basis' first `count` columns.
                var coefficients = [Double](repeating: 0, count: count * b)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(count), Int32(b), Int32(n), 1, basis.values,
                            Int32(basis.columns), block.values, Int32(b), 0, &coefficients, Int32(b))
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(b), Int32(count), -1, basis.values,
                            Int32(basis.columns), coefficients, Int32(b), 1, &block.values, Int32(b))
            }
            var t = block.transposed  // each column a contiguous row
            t.values.withUnsafeMutableBufferPointer { v in
                let p = v.baseAddress!
                for j in 0..<b {
                    let column = p + j * n
                    let before = cblas_dnrm2(Int32(n), column, 1)
                    for i in 0..<j {
                        cblas_daxpy(Int32(n), -cblas_ddot(Int32(n), p + i * n, 1, column, 1), p + i * n, 1, column, 1)
                    }
                    var norm = cblas_dnrm2(Int32(n), column, 1)
                    if norm == 0 || norm <= 1e-10 * before {
                        for i in 0..<n { column[i] = generator.nextGaussian() }
                        for i in 0..<j {
                            cblas_daxpy(Int32(n), -cblas_ddot(Int32(n), p + i * n, 1, column, 1), p + i * n, 1, column, 1)
                        }
                        norm = cblas_dnrm2(Int32(n), column, 1)
                    }
                    cblas_dscal(Int32(n), 1 / norm, column, 1)
                }
            }
            block = t.transposed
        }
    }
}

extension Xoshiro256StarStar {
    /// Uniform in (0, 1).
    mutating func nextUniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// Standard normal (Box–Muller).
    mutating func nextGaussian() -> Double {
        (-2 * log(nextUniform())).squareRoot() * cos(2 * .pi * nextUniform())
    }
}
