import BERGCore
import CBLAS
import Foundation

/// A library that multiplies matrices for the engine.
public enum GEMMBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// OpenBLAS, with the kernels the environment pins (`OPENBLAS_CORETYPE`); always present.
    case openBLAS = "OpenBLAS"
    /// oneDNN's `dnnl_sgemm`, whose JIT kernels use the widest vectors the CPU has (AVX-512
    /// here); present when the build found its header (Package.swift) and it runs on its
    /// OpenMP runtime, which lets each call be held to one thread.
    case oneDNN

    public var description: String { rawValue }

    /// Whether this build can use it on this machine.
    public var isAvailable: Bool {
        switch self {
        case .openBLAS: return true
        case .oneDNN: return OneDNN.isAvailable
        }
    }

    /// The backends this build can use, OpenBLAS first.
    public static var available: [GEMMBackend] { allCases.filter(\.isAvailable) }
}

/// The kinds of matrix product the engine runs. Each goes to the backend measured fastest for
/// it (`GEMM.backend(for:)`), and `berg bench` reports that choice.
public enum GEMMOpClass: String, CaseIterable, Sendable {
    /// Convolutions other than Winograd's: oneDNN's direct convolution, or on OpenBLAS im2col
    /// (or a 1×1 view of the input) times the weights.
    case convolution = "convolution"
    /// 3×3 stride-1 convolutions: oneDNN's Winograd, or on OpenBLAS the 16 products of
    /// Winograd F(2×2, 3×3).
    case winograd = "convolution 3×3/1 (Winograd)"
    /// `Linear` layers: x · Wᵀ.
    case linear = "linear"
    /// Attention's Q·Kᵀ and softmax · V, per image and head.
    case attention = "attention"
    /// The fwRF readout's pooling: receptive fields · feature maps.
    case fwrfReadout = "fwRF readout"
    /// scikit-learn estimators applied to features (PCA, linear models).
    case estimator = "estimator"
    /// Float64 products (RSA's pattern covariances), always on OpenBLAS.
    case float64 = "float64 (RSA)"
}

/// The one entry point for float32 matrix products: every sgemm in BERG goes through
/// `GEMM.multiply`.
///
/// oneDNN runs each call on one thread; when a product is split across threads, the split is
/// along the columns of C only, so that every element is the same sum in the same order however
/// many threads share the work (the tests check this bit for bit). OpenBLAS threads its calls
/// itself, with its own process-wide pool (all cores, or the engine's thread count once a
/// program opts into `ProcessTuning`); the library never changes that setting on its own.
public enum GEMM {
    /// A backend chosen by the caller for the work inside `withBackend`, on this thread and the
    /// engine's worker threads it starts (tests and `berg bench` compare backends with it).
    @TaskLocal static var scopedBackend: GEMMBackend?

    /// The backend an op class uses: the one set by an enclosing `withBackend`, else the
    /// fastest available. Measured on an AMD EPYC (Zen 5, AVX-512) on 2 threads (`berg bench
    /// --backends`, README "Speed"), oneDNN beat OpenBLAS (pinned to Haswell kernels) on every
    /// op class: 1.2–2× on GEMMs, 1.5–3× with its own convolutions.
    public static func backend(for opClass: GEMMOpClass) -> GEMMBackend {
        if opClass == .float64 { return .openBLAS }  // oneDNN has no float64 GEMM
        if let scoped = scopedBackend { return scoped }
        return OneDNN.isAvailable ? .oneDNN : .openBLAS
    }

    /// Runs `body` with every GEMM on `backend` (which must be available).
    public static func withBackend<R>(_ backend: GEMMBackend, _ body: () throws -> R) rethrows -> R {
        precondition(backend.isAvailable, "GEMM backend \(backend) is not available in this build")
        return try $scopedBackend.withValue(backend, operation: body)
    }

    /// C = alpha · op(A) · op(B) + beta · C, all row-major: op(A) is m×k, stored as A [m × k]
    /// or, when `transposeA`, as A [k × m] (rows `lda` apart); op(B) is k×n, stored as B [k × n]
    /// or, when `transposeB`, as B [n × k] (rows `ldb` apart); and C is m×n (rows `ldc` apart). With `threads` > 1 a large product on oneDNN is split into
    /// column panels that run in parallel; call it with 1 from inside a parallel loop.
    public static func multiply(_ opClass: GEMMOpClass, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                                b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                                threads: Int = 1, backend chosen: GEMMBackend? = nil) {
        guard m > 0, n > 0 else { return }
        let backend = chosen ?? backend(for: opClass)
        let panels = backend == .oneDNN ? panelCount(m: m, n: n, k: k, threads: threads) : 1
        guard panels > 1 else {
            run(backend, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                transposeB: transposeB, beta: beta, c: c, ldc: ldc)
            return
        }
        // Panel edges on multiples of 16 columns, so that no panel starts mid-vector.
        let blocks = (n + 15) / 16
        let out = SendablePointer(c)
        Parallel.run(panels) { p in
            let first = min(n, blocks * p / panels * 16), last = min(n, blocks * (p + 1) / panels * 16)
            guard last > first else { return }
            let bPanel = transposeB ? b + first * ldb : b + first
            run(backend, m: m, n: last - first, k: k, alpha: alpha, a: a, lda: lda, transposeA: transposeA, b: bPanel,
                ldb: ldb, transposeB: transposeB, beta: beta, c: out.p + first, ldc: ldc)
        }
    }

    /// Column panels for `threads` threads: one per thread, each at least 64 columns and
    /// about 4 MFLOP, so that waking a thread never costs more than it saves.
    static func panelCount(m: Int, n: Int, k: Int, threads: Int) -> Int {
        guard threads > 1 else { return 1 }
        let flops = 2 * Double(m) * Double(n) * Double(max(k, 1))
        return max(1, min(threads, n / 64, Int(flops / 4e6)))
    }

    /// One single-threaded call into `backend`.
    static func run(_ backend: GEMMBackend, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false, b: UnsafePointer<Float>, ldb: Int,
                    transposeB: Bool, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        switch backend {
        case .oneDNN:
            OneDNN.sgemm(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                         transposeB: transposeB, beta: beta, c: c, ldc: ldc)
        case .openBLAS:
            if m <= 4 && transposeB && !transposeA {
                // A few rows: matrix-vector products stream B once each, where sgemm would
                // first copy (pack) all of it.
                for r in 0..<m {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb),
                                a + r * lda, 1, beta, c + r * ldc, 1)
                }
            } else {
                cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            }
        }
    }
}
