import BERGCore
import CBLAS
import Foundation

/// lucent's image parameterisation `param.image(size, fft=True, decorrelate=True)`: the
/// parameters are a 2-d spectrum per colour channel, scaled by 1 / frequency; the image is its
/// inverse real FFT (orthonormal, divided by lucent's 4), mixed across colours by lucent's
/// colour-correlation matrix, through a sigmoid into [0, 1].
///
/// The inverse FFT is written as four small real GEMMs per plane (the transforms are
/// size × size, cheap next to one pass through a network), and its adjoint as their transposes.
public struct FourierImage: Sendable {
    public let batch: Int
    public let size: Int
    /// Spectrum columns: the ⌊size / 2⌋ + 1 frequencies that `irfftn(s=(size, size))` reads.
    let columns: Int
    /// The parameters: per image and colour, the real part [size, columns] then the imaginary part.
    public var spectrum: [Float]
    /// 1 / max(|f|, 1 / size) per spectrum entry [size, columns].
    let scale: [Float]
    /// cos and sin of 2π·h·k / size, [size, size].
    let rowCos: [Float], rowSin: [Float]
    /// c_k cos and c_k sin of 2π·k·w / size, [columns, size], with c_k = 2 except at 0 and
    /// at the Nyquist frequency, where the real inverse FFT counts a frequency once.
    let columnCos: [Float], columnSin: [Float]

    /// lucent's colour mixing: `color_correlation_svd_sqrt` divided by its largest column norm.
    static let colourCorrelation: [Float] = {
        let m: [Double] = [0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09, 0.03]
        var largest = 0.0
        for j in 0..<3 {
            let (a, b, c) = (m[j], m[3 + j], m[6 + j])
            largest = max(largest, (a * a + b * b + c * c).squareRoot())
        }
        return m.map { Float($0 / largest) }
    }()
    /// lucent divides the inverse FFT by this "magic" constant (from Lucid).
    static let magic: Float = 4

    /// A spectrum of standard deviation `deviation` (lucent's 0.01), drawn from `generator`.
    public init(batch: Int, size: Int, deviation: Double = 0.01, generator: inout SeededGenerator) throws {
        guard batch >= 1, size >= 2 else {
            throw BERGError.invalidInput("FourierImage: batch \(batch) must be at least 1 and size \(size) at least 2")
        }
        self.batch = batch
        self.size = size
        columns = size / 2 + 1
        spectrum = (0..<(batch * 3 * 2 * size * columns)).map { _ in Float(generator.nextGaussian() * deviation) }
        var scale = [Float](repeating: 0, count: size * columns)
        for ky in 0..<size {
            let fy = Double(ky < (size + 1) / 2 ? ky : ky - size) / Double(size)
            for k in 0..<columns {
                let fx = Double(k) / Double(size)
                scale[ky * columns + k] = Float(1 / max((fx * fx + fy * fy).squareRoot(), 1 / Double(size)))
            }
        }
        self.scale = scale
        func angle(_ a: Int, _ b: Int) -> Double { 2 * Double.pi * Double((a * b) % size) / Double(size) }
        rowCos = (0..<(size * size)).map { Float(cos(angle($0 / size, $0 % size))) }
        rowSin = (0..<(size * size)).map { Float(sin(angle($0 / size, $0 % size))) }
        let weight = (0..<columns).map { k in (k == 0 || 2 * k == size) ? 1.0 : 2.0 }
        columnCos = (0..<(columns * size)).map { Float(weight[$0 / size] * cos(angle($0 / size, $0 % size))) }
        columnSin = (0..<(columns * size)).map { Float(weight[$0 / size] * sin(angle($0 / size, $0 % size))) }
    }

    var planeSize: Int { size * size }
    var spectrumPlane: Int { 2 * size * columns }

    /// The images [batch, 3, size, size] in [0, 1].
    public func render() throws -> Tensor {
        var spatial = [Float](repeating: 0, count: batch * 3 * planeSize)
        for plane in 0..<(batch * 3) {
            inverseTransform(plane: plane, into: &spatial)
        }
        var image = [Float](repeating: 0, count: spatial.count)
        let m = FourierImage.colourCorrelation
        for b in 0..<batch {
            let base = b * 3 * planeSize
            for i in 0..<planeSize {
                let r = spatial[base + i], g = spatial[base + planeSize + i], bl = spatial[base + 2 * planeSize + i]
                for c in 0..<3 {
                    let mixed = m[3 * c] * r + m[3 * c + 1] * g + m[3 * c + 2] * bl
                    image[base + c * planeSize + i] = 1 / (1 + Foundation.exp(-mixed))
                }
            }
        }
        return try Tensor(shape: [batch, 3, size, size], floats: image)
    }

    /// ∂L/∂spectrum for ∂L/∂image, where `image` is what `render` gave.
    public func gradient(imageGradient: Tensor, image: Tensor) throws -> [Float] {
        guard imageGradient.shape == [batch, 3, size, size], image.shape == imageGradient.shape else {
            throw BERGError.shapeMismatch(what: "FourierImage image gradient", expected: [batch, 3, size, size], actual: imageGradient.shape)
        }
        let g = imageGradient.floats, y = image.floats
        let m = FourierImage.colourCorrelation
        var spatial = [Float](repeating: 0, count: g.count)
        for b in 0..<batch {
            let base = b * 3 * planeSize
            for i in 0..<planeSize {
                // Through the sigmoid, then the colour mixing (transposed).
                func mixed(_ c: Int) -> Float {
                    let v = y[base + c * planeSize + i]
                    return g[base + c * planeSize + i] * v * (1 - v)
                }
                let (d0, d1, d2) = (mixed(0), mixed(1), mixed(2))
                for j in 0..<3 { spatial[base + j * planeSize + i] = m[j] * d0 + m[3 + j] * d1 + m[6 + j] * d2 }
            }
        }
        var result = [Float](repeating: 0, count: spectrum.count)
        for plane in 0..<(batch * 3) {
            adjointTransform(plane: plane, spatialGradient: spatial, into: &result)
        }
        return result
    }

    /// x = (Zr · Bc − Zi · Bs) / (4 √(size²)), Z = E · (scale ⊙ X) with E[h, k] = e^{2πi·h·k/size}.
    private func inverseTransform(plane: Int, into spatial: inout [Float]) {
        let (s, k) = (size, columns)
        let offset = plane * spectrumPlane
        var xr = [Float](repeating: 0, count: s * k), xi = xr
        for i in 0..<(s * k) {
            xr[i] = spectrum[offset + i] * scale[i]
            xi[i] = spectrum[offset + s * k + i] * scale[i]
        }
        var zr = [Float](repeating: 0, count: s * k), zi = zr
        gemm(rowCos, xr, &zr, m: s, n: k, inner: s, alpha: 1, beta: 0)
        gemm(rowSin, xi, &zr, m: s, n: k, inner: s, alpha: -1, beta: 1)
        gemm(rowCos, xi, &zi, m: s, n: k, inner: s, alpha: 1, beta: 0)
        gemm(rowSin, xr, &zi, m: s, n: k, inner: s, alpha: 1, beta: 1)
        var x = [Float](repeating: 0, count: s * s)
        let factor = 1 / (FourierImage.magic * Float(s))
        gemm(zr, columnCos, &x, m: s, n: s, inner: k, alpha: factor, beta: 0)
        gemm(zi, columnSin, &x, m: s, n: s, inner: k, alpha: -factor, beta: 1)
        spatial.replaceSubrange((plane * planeSize)..<((plane + 1) * planeSize), with: x)
    }

    /// The transpose of `inverseTransform` (the cos and sin matrices along rows are symmetric).
    private func adjointTransform(plane: Int, spatialGradient: [Float], into result: inout [Float]) {
        let (s, k) = (size, columns)
        let g = Array(spatialGradient[(plane * planeSize)..<((plane + 1) * planeSize)])
        let factor = 1 / (FourierImage.magic * Float(s))
        var dzr = [Float](repeating: 0, count: s * k), dzi = dzr
        gemm(g, columnCos, &dzr, m: s, n: k, inner: s, alpha: factor, beta: 0, transposeB: true)
        gemm(g, columnSin, &dzi, m: s, n: k, inner: s, alpha: -factor, beta: 0, transposeB: true)
        var dxr = [Float](repeating: 0, count: s * k), dxi = dxr
        gemm(rowCos, dzr, &dxr, m: s, n: k, inner: s, alpha: 1, beta: 0)
        gemm(rowSin, dzi, &dxr, m: s, n: k, inner: s, alpha: 1, beta: 1)
        gemm(rowCos, dzi, &dxi, m: s, n: k, inner: s, alpha: 1, beta: 0)
        gemm(rowSin, dzr, &dxi, m: s, n: k, inner: s, alpha: -1, beta: 1)
        let offset = plane * spectrumPlane
        for i in 0..<(s * k) {
            result[offset + i] = dxr[i] * scale[i]
            result[offset + s * k + i] = dxi[i] * scale[i]
        }
    }

    /// c [m, n] = alpha · a [m, inner] · b [inner, n] (or bᵀ, b [n, inner]) + beta · c.
    private func gemm(_ a: [Float], _ b: [Float], _ c: inout [Float], m: Int, n: Int, inner: Int,
                      alpha: Float, beta: Float, transposeB: Bool = false) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(inner),
                    alpha, a, Int32(inner), b, Int32(transposeB ? inner : n), beta, &c, Int32(n))
    }
}

/// A seeded pseudo-random generator (SplitMix64): the same seed gives the same numbers on
/// every machine, so that a dream is reproducible byte for byte.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A standard normal deviate (Box–Muller, one of the pair).
    public mutating func nextGaussian() -> Double {
        let u = 1 - nextUniform()   // (0, 1]
        let v = nextUniform()
        return (-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// One of 0..<n, uniformly (n ≥ 1).
    public mutating func nextIndex(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
