import CBLAS

extension GEMM {
    /// C = alpha · A · B + beta · C in float64, row-major (A m×k, B k×n, C m×n). oneDNN has no
    /// float64 GEMM, so these run on OpenBLAS, which threads them itself (op class `.float64`).
    public static func multiply(m: Int, n: Int, k: Int, alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
                                b: UnsafePointer<Double>, ldb: Int, beta: Double = 0,
                                c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                    b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The upper triangle of C (n×n, row-major) = A·Aᵀ + beta · C, with A n×k; or, when
    /// `transposeA`, Aᵀ·A with A k×n. Float64 on OpenBLAS (`dsyrk`); the lower triangle is
    /// left as it was.
    public static func symmetricRankUpdate(n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, transposeA: Bool = false,
                                           beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard n > 0 else { return }
        cblas_dsyrk(CblasRowMajor, CblasUpper, transposeA ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), 1, a, Int32(lda),
                    beta, c, Int32(ldc))
    }
}
