import BERGCore
import CBLAS

/// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016) for 3×3 convolutions with stride 1. A 2×2 output tile costs 16
/// multiplies per channel pair instead of 36: each 4×4 input tile d is transformed to Bᵀ d B,
/// the 16 transformed positions become 16 GEMMs [out × in] · [in × tiles] against the
/// transformed kernels G g Gᵀ, and each 4×4 product m goes back to a 2×2 tile as Aᵀ m A.
/// The transforms only add and halve, so results stay within about 1e-6 (relative to the
/// output's magnitude) of a direct convolution.
struct WinogradKernels: Sendable {
    /// U[ξ][o][c] for ξ = 4·row + column of the transformed 4×4 kernel.
    let u: [Float]

    /// `weight` is [out, in, 3, 3] flattened.
    init(weight: [Float], outChannels: Int, inChannels: Int) {
        var u = [Float](repeating: 0, count: 16 * outChannels * inChannels)
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let g = (0..<9).map { Double(weight[(o * inChannels + c) * 9 + $0]) }
                // t = G g (4×3), with G's rows (1,0,0), (½,½,½), (½,−½,½), (0,0,1); then U = t Gᵀ.
                var t = [Double](repeating: 0, count: 12)
                for j in 0..<3 {
                    t[j] = g[j]
                    t[3 + j] = (g[j] + g[3 + j] + g[6 + j]) / 2
                    t[6 + j] = (g[j] - g[3 + j] + g[6 + j]) / 2
                    t[9 + j] = g[6 + j]
                }
                for i in 0..<4 {
                    let row = [t[3 * i], (t[3 * i] + t[3 * i + 1] + t[3 * i + 2]) / 2,
                               (t[3 * i] - t[3 * i + 1] + t[3 * i + 2]) / 2, t[3 * i + 2]]
                    for j in 0..<4 { u[((4 * i + j) * outChannels + o) * inChannels + c] = Float(row[j]) }
                }
            }
        }
        self.u = u
    }
}

extension Conv2d {
    /// Winograd pays off for 3×3, stride 1, undilated convolutions with enough channels that
    /// the GEMMs outweigh the transforms (and small enough outputs, `usesWinograd(h:w:)`).
    var winogradApplies: Bool {
        kernel == 3 && stride == 1 && dilation == 1 && inChannels >= 32 && outChannels >= 32
    }

    /// Whether this convolution runs as Winograd F(2×2, 3×3) rather than im2col + sgemm on
    /// inputs of h × w.
    public func usesWinograd(h: Int, w: Int) -> Bool {
        let o = outputSize(h: h, w: w)
        return winogradKernels != nil && o.h * o.w <= Conv2d.winogradMaxPlane
    }

    /// Largest output plane for Winograd. Measured at batch 64 on 2 threads: 1.4–2× faster
    /// than im2col + sgemm for 7×7 to 27×27 outputs with 64–512 channels, even at 28×28,
    /// and 0.7× at 56×56, where im2col copies long rows and the scalar tile transforms cost
    /// more than the multiplies they save.
    static let winogradMaxPlane = 27 * 27

    /// Tiles per GEMM when several images share one: enough columns for an efficient GEMM,
    /// few enough that a worker's transformed tiles stay within the last-level cache.
    static let winogradGroupTiles = 512

    /// The convolution of x [n, C, h, w] by Winograd F(2×2, 3×3), with the epilogue (bias,
    /// residual, ReLU) applied as each output tile is formed. Writes every element of `out`.
    func winograd(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, out o: Size2, kernels: WinogradKernels,
                  residual: UnsafePointer<Float>?, relu: Bool, into output: UnsafeMutablePointer<Float>) {
        let cin = inChannels, cout = outChannels
        let tilesH = (o.h + 1) / 2, tilesW = (o.w + 1) / 2, tilesPerImage = tilesH * tilesW
        // Input planes copied into zero-padded planes that cover every tile's 4×4 window.
        let planeH = 2 * tilesH + 2, planeW = 2 * tilesW + 2
        let group = max(1, min(Conv2d.winogradGroupTiles / tilesPerImage,
                               (n + Parallel.workers(for: n) - 1) / Parallel.workers(for: n)))
        let groups = (n + group - 1) / group
        let workers = Parallel.workers(for: groups)
        let maxTiles = group * tilesPerImage
        let slotSize = 16 * maxTiles * (cin + cout)
        let outPlane = o.h * o.w
        let biasValues = bias ?? [Float](repeating: 0, count: cout)
        let out = SendablePointer(output)
        let (padH, padW) = (padding.h, padding.w)
        kernels.u.withUnsafeBufferPointer { up in
            biasValues.withUnsafeBufferPointer { bp in
                ScratchPool.shared.withBuffer(count: workers * slotSize) { scratch in
                    let u = up.baseAddress!, biasPtr = bp.baseAddress!
                    let slots = SendablePointer(scratch)
                    Parallel.forEach(groups) { g, slot in
                        let first = g * group, count = min(group, n - first)
                        let tiles = count * tilesPerImage
                        let v = slots.p + slot * slotSize            // V[ξ][c][tile]
                        let m = v + 16 * maxTiles * cin               // M[ξ][o][tile]
                        // With one group, the channels are split across the threads instead.
                        let channelsInParallel = workers == 1
                        Conv2d.forChannels(cin, parallel: channelsInParallel) { channels in
                            var plane = [Float](repeating: 0, count: planeH * planeW)
                            for j in 0..<count {
                                for c in channels {
                                    let src = input + ((first + j) * cin + c) * h * w
                                    for y in 0..<h where y + padH < planeH {
                                        for x in 0..<min(w, planeW - padW) { plane[(y + padH) * planeW + x + padW] = src[y * w + x] }
                                    }
                                    Conv2d.transformInputTiles(plane, planeW: planeW, tilesH: tilesH, tilesW: tilesW,
                                                               into: v + c * tiles + j * tilesPerImage, positionStride: cin * tiles)
                                }
                            }
                        }
                        for xi in 0..<16 {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(tiles), Int32(cin),
                                        1, u + xi * cout * cin, Int32(cin), v + xi * cin * tiles, Int32(tiles),
                                        0, m + xi * cout * tiles, Int32(tiles))
                        }
                        Conv2d.forChannels(cout, parallel: channelsInParallel) { channels in
                            for j in 0..<count {
                                for ch in channels {
                                    let image = ((first + j) * cout + ch) * outPlane
                                    Conv2d.transformOutputTiles(m + ch * tiles + j * tilesPerImage, positionStride: cout * tiles,
                                                                tilesW: tilesW, out: o, bias: biasPtr[ch],
                                                                residual: residual.map { $0 + image }, relu: relu, into: out.p + image)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func forChannels(_ count: Int, parallel: Bool, _ body: (Range<Int>) -> Void) {
        if parallel { Parallel.chunks(count, minChunk: 1, body) } else { body(0..<count) }
    }

    /// V = Bᵀ d B for every 4×4 window d (stride 2) of a padded plane; position ξ of tile t
    /// goes to v[ξ · positionStride + t]. Bᵀ's rows are (1,0,−1,0), (0,1,1,0), (0,−1,1,0), (0,1,0,−1).
    static func transformInputTiles(_ plane: [Float], planeW: Int, tilesH: Int, tilesW: Int,
                                    into v: UnsafeMutablePointer<Float>, positionStride: Int) {
        plane.withUnsafeBufferPointer { pp in
            let p = pp.baseAddress!
            for ty in 0..<tilesH {
                for tx in 0..<tilesW {
                    let d = UnsafeRawPointer(p + 2 * ty * planeW + 2 * tx)
                    let d0 = d.loadUnaligned(as: SIMD4<Float>.self)
                    let d1 = d.loadUnaligned(fromByteOffset: 4 * planeW, as: SIMD4<Float>.self)
                    let d2 = d.loadUnaligned(fromByteOffset: 8 * planeW, as: SIMD4<Float>.self)
                    let d3 = d.loadUnaligned(fromByteOffset: 12 * planeW, as: SIMD4<Float>.self)
                    // Rows first (r = Bᵀ d, a row per vector), then each row times B.
                    let rows = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                    let t = ty * tilesW + tx
                    func put(_ i: Int, _ r: SIMD4<Float>) {
                        v[(4 * i) * positionStride + t] = r[0] - r[2]
                        v[(4 * i + 1) * positionStride + t] = r[1] + r[2]
                        v[(4 * i + 2) * positionStride + t] = r[2] - r[1]
                        v[(4 * i + 3) * positionStride + t] = r[1] - r[3]
                    }
                    put(0, rows.0); put(1, rows.1); put(2, rows.2); put(3, rows.3)
                }
            }
        }
    }

    /// Y = Aᵀ m A for each tile's 16 products (m[ξ · positionStride + t]), plus bias, residual
    /// and ReLU, into one output channel's plane; Aᵀ's rows are (1,1,1,0) and (0,1,−1,−1).
    static func transformOutputTiles(_ m: UnsafePointer<Float>, positionStride: Int, tilesW: Int, out o: Size2,
                                     bias: Float, residual: UnsafePointer<Float>?, relu: Bool,
                                     into dst: UnsafeMutablePointer<Float>) {
        let tilesH = (o.h + 1) / 2
        for ty in 0..<tilesH {
            for tx in 0..<tilesW {
                let t = ty * tilesW + tx
                // s = Aᵀ m (2×4), then Y = s A (2×2).
                var s0 = SIMD4<Float>(), s1 = SIMD4<Float>()
                for j in 0..<4 {
                    let m0 = m[j * positionStride + t], m1 = m[(4 + j) * positionStride + t]
                    let m2 = m[(8 + j) * positionStride + t], m3 = m[(12 + j) * positionStride + t]
                    s0[j] = m0 + m1 + m2
                    s1[j] = m1 - m2 - m3
                }
                let y = SIMD4<Float>(s0[0] + s0[1] + s0[2], s0[1] - s0[2] - s0[3],
                                     s1[0] + s1[1] + s1[2], s1[1] - s1[2] - s1[3])
                for dy in 0..<2 where 2 * ty + dy < o.h {
                    for dx in 0..<2 where 2 * tx + dx < o.w {
                        let at = (2 * ty + dy) * o.w + 2 * tx + dx
                        var value = y[2 * dy + dx] + bias
                        if let residual { value += residual[at] }
                        dst[at] = relu ? max(value, 0) : value
                    }
                }
            }
        }
    }
}
