import CKernels
import Foundation

/// nl(x) = log(1 + |x|) · tanh(x), BERG's fwRF non-linearity.
///
/// log and tanh are Cephes-style single-precision kernels (range reduction plus a minimax
/// polynomial, about 1 ulp) in CKernels, built for AVX-512, AVX2 and the baseline: libm's
/// logf/tanhf, or Swift code (which builds for the baseline's 4-float vectors only), would cost
/// more than the GEMM they follow. Every variant gives the same bits.
public enum LogActivation {
    /// libm's log1p(|x|) · tanh(x), the reference the kernels are tested against.
    @inline(__always)
    public static func scalar(_ x: Float) -> Float { Foundation.log(1 + abs(x)) * Foundation.tanh(x) }

    /// nl(x).
    public static func evaluate(_ x: Float) -> Float { berg_log_tanh(x) }

    /// out[i] = nl(x[i]); out may be x itself.
    public static func apply(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        berg_log_tanh_array(x, out, count)
    }

    /// Σ_i nl(x[i]) · w[i], in 16 partial sums added in a fixed order.
    public static func weightedSum(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, count: Int) -> Float {
        berg_log_tanh_dot(x, w, count)
    }
}
