import BERGCore

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
        weight.withUnsafeBufferPointer { wp in
            for o in 0..<outChannels {
                for c in 0..<inChannels {
                    let g = wp.baseAddress! + (o * inChannels + c) * 9
                    // t = G g (4×3), with G's rows (1,0,0), (½,½,½), (½,−½,½), (0,0,1); then U = t Gᵀ.
                    var t = (SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>(), SIMD4<Double>())  // t's rows, 3 used
                    for j in 0..<3 {
                        let g0 = Double(g[j]), g1 = Double(g[3 + j]), g2 = Double(g[6 + j])
                        t.0[j] = g0; t.1[j] = (g0 + g1 + g2) / 2; t.2[j] = (g0 - g1 + g2) / 2; t.3[j] = g2
                    }
                    func put(_ i: Int, _ r: SIMD4<Double>) {
                        let row = SIMD4<Double>(r[0], (r[0] + r[1] + r[2]) / 2, (r[0] - r[1] + r[2]) / 2, r[2])
                        for j in 0..<4 { u[((4 * i + j) * outChannels + o) * inChannels + c] = Float(row[j]) }
                    }
                    put(0, t.0); put(1, t.1); put(2, t.2); put(3, t.3)
                }
            }
        }
        self.u = u
    }
}

extension Conv2d {
    /// Winograd pays off for 3×3, stride 1, undilated convolutions with enough channels that
    /// the GEMMs outweigh the transforms.
    var winogradApplies: Bool {
        kernel == 3 && stride == 1 && dilation == 1 && inChannels >= 32 && outChannels >= 32
    }

    /// Whether this convolution runs as Winograd (oneDNN's, or F(2×2, 3×3) here) rather than
    /// directly or as im2col + sgemm. On OpenBLAS, measured at batch 64 on 2 threads: 1.4–2×
    /// faster per layer for 7×7 to 27×27 outputs with 64–512 channels; at 56×56 about even per
    /// layer, yet ResNet-18 as a whole ran at 46–48 img/s with it there against 38–43 without.
    public var usesWinograd: Bool { winogradApplies }

    /// Tiles per GEMM when several images share one: enough columns for an efficient GEMM,
    /// few enough that a worker's transformed tiles stay within the last-level cache.
    static let winogradGroupTiles = 512

    /// The convolution of x [n, C, h, w] by Winograd F(2×2, 3×3), with the epilogue (bias,
    /// residual, ReLU) applied as each output tile is formed. Writes every element of `out`.
    func winograd(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, out o: Size2, kernels: WinogradKernels,
                  residual: UnsafePointer<Float>?, relu: Bool, into output: UnsafeMutablePointer<Float>) {
        let cin = inChannels, cout = outChannels
        let tilesH = (o.h + 1) / 2, tilesW = (o.w + 1) / 2, tilesPerImage = tilesH * tilesW
        // Each input plane is copied into a zero-padded plane that covers every tile's 4×4
        // window, its even and odd columns apart: then the same window position of eight
        // neighbouring tiles is eight consecutive floats. Rows have 8 floats of slack for the
        // vector loads of the last full group of tiles.
        let planeH = 2 * tilesH + 2, planeW = 2 * tilesW + 2, halfW = tilesW + 9
        let group = max(1, min(Conv2d.winogradGroupTiles / tilesPerImage,
                               (n + Parallel.workers(for: n) - 1) / Parallel.workers(for: n)))
        let groups = (n + group - 1) / group
        let workers = Parallel.workers(for: groups)
        let maxTiles = group * tilesPerImage
        // Rows of V and M have 8 floats of slack, so that the transforms always move whole
        // vectors of eight tiles: the extra lanes land in slack or in tiles written later.
        let maxRow = maxTiles + 8
        let slotSize = 16 * maxRow * (cin + cout)
        let outPlane = o.h * o.w
        let biasValues = bias ?? [Float](repeating: 0, count: cout)
        let out = SendablePointer(output)
        let (padH, padW) = (padding.h, padding.w)
        kernels.u.withUnsafeBufferPointer { up in
            biasValues.withUnsafeBufferPointer { bp in
                ScratchPool.shared.withBuffer(count: workers * slotSize) { scratch in
                    let u = up.baseAddress!, biasPtr = bp.baseAddress!
                    let slots = SendablePointer(scratch)
                    Parallel.forEach(groups, workers: workers) { g, slot in
                        let first = g * group, count = min(group, n - first)
                        let tiles = count * tilesPerImage, row = tiles + 8
                        let v = slots.p + slot * slotSize            // V[ξ][c][tile], rows of `row`
                        let m = v + 16 * maxRow * cin                 // M[ξ][o][tile], rows of `row`
                        // With one group, the channels are split across the threads instead.
                        let channelsInParallel = workers == 1
                        Conv2d.forChannels(cin, parallel: channelsInParallel) { channels in
                            var plane = [Float](repeating: 0, count: 2 * planeH * halfW)  // evens, then odds
                            for j in 0..<count {
                                for c in channels {
                                    let src = input + ((first + j) * cin + c) * h * w
                                    for y in 0..<h where y + padH < planeH {
                                        for x in 0..<min(w, planeW - padW) {
                                            let px = x + padW
                                            plane[(px & 1) * planeH * halfW + (y + padH) * halfW + px >> 1] = src[y * w + x]
                                        }
                                    }
                                    Conv2d.transformInputTiles(plane, planeH: planeH, halfW: halfW, tilesH: tilesH, tilesW: tilesW,
                                                               into: v + c * row + j * tilesPerImage, positionStride: cin * row)
                                }
                            }
                        }
                        // With one group the 16 products share the threads (each single-threaded).
                        let products = channelsInParallel ? Parallel.workers(for: 16) : 1
                        let mPointer = SendablePointer(m)
                        Parallel.run(products) { part in
                            for xi in Swift.stride(from: part, to: 16, by: products) {
                                GEMM.multiply(.winograd, m: cout, n: tiles, k: cin, a: u + xi * cout * cin, lda: cin,
                                              b: v + xi * cin * row, ldb: row, c: mPointer.p + xi * cout * row, ldc: row)
                            }
                        }
                        Conv2d.forChannels(cout, parallel: channelsInParallel) { channels in
                            for j in 0..<count {
                                for ch in channels {
                                    let image = ((first + j) * cout + ch) * outPlane
                                    Conv2d.transformOutputTiles(m + ch * row + j * tilesPerImage, positionStride: cout * row,
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

    typealias Lanes = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self) }

    /// V = Bᵀ d B for every 4×4 window d (stride 2) of a padded plane (even columns, then odd,
    /// each `planeH` rows of `halfW`), eight neighbouring tiles at a time; position ξ of tile t
    /// goes to v[ξ · positionStride + t]. A row's last vector may write up to 7 floats past its
    /// tiles: into the next row's or image's tiles (written after it) or the row's slack. Bᵀ's rows are (1,0,−1,0), (0,1,1,0), (0,−1,1,0), (0,1,0,−1).
    static func transformInputTiles(_ plane: [Float], planeH: Int, halfW: Int, tilesH: Int, tilesW: Int,
                                    into v: UnsafeMutablePointer<Float>, positionStride: Int) {
        plane.withUnsafeBufferPointer { pp in
            let even = pp.baseAddress!, odd = even + planeH * halfW
            for ty in 0..<tilesH {
                for tx in Swift.stride(from: 0, to: tilesW, by: 8) {
                    // d[i][j] of the eight tiles: columns 0 and 2 are even, 1 and 3 odd.
                    func row(_ i: Int) -> (Lanes, Lanes, Lanes, Lanes) {
                        let r = (2 * ty + i) * halfW + tx
                        return (load(even + r), load(odd + r), load(even + r + 1), load(odd + r + 1))
                    }
                    let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
                    // Rows first (r = Bᵀ d), then each row times B.
                    let t = ty * tilesW + tx
                    func put(_ i: Int, _ r: (Lanes, Lanes, Lanes, Lanes)) {
                        store(r.0 - r.2, v + (4 * i) * positionStride + t)
                        store(r.1 + r.2, v + (4 * i + 1) * positionStride + t)
                        store(r.2 - r.1, v + (4 * i + 2) * positionStride + t)
                        store(r.1 - r.3, v + (4 * i + 3) * positionStride + t)
                    }
                    put(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
                    put(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
                    put(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
                    put(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
                }
            }
        }
    }

    /// Y = Aᵀ m A for each tile's 16 products (m[ξ · positionStride + t]), eight tiles at a
    /// time, plus bias, residual and ReLU, into one output channel's plane; Aᵀ's rows are
    /// (1,1,1,0) and (0,1,−1,−1).
    static func transformOutputTiles(_ m: UnsafePointer<Float>, positionStride: Int, tilesW: Int, out o: Size2,
                                     bias: Float, residual: UnsafePointer<Float>?, relu: Bool,
                                     into dst: UnsafeMutablePointer<Float>) {
        let tilesH = (o.h + 1) / 2
        for ty in 0..<tilesH {
            for tx in Swift.stride(from: 0, to: tilesW, by: 8) {
                let count = min(8, tilesW - tx)
                let t = ty * tilesW + tx
                func at(_ xi: Int) -> Lanes { load(m + xi * positionStride + t) }
                // s = Aᵀ m (2×4), then Y = s A (2×2).
                func column(_ j: Int) -> (Lanes, Lanes) {
                    let m1 = at(4 + j), m2 = at(8 + j)
                    return (at(j) + m1 + m2, m1 - m2 - at(12 + j))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                let y = (c0.0 + c1.0 + c2.0, c1.0 - c2.0 - c3.0, c0.1 + c1.1 + c2.1, c1.1 - c2.1 - c3.1)
                for k in 0..<count {
                    let ox = 2 * (tx + k)
                    for dy in 0..<2 where 2 * ty + dy < o.h {
                        for dx in 0..<2 where ox + dx < o.w {
                            let index = (2 * ty + dy) * o.w + ox + dx
                            let lanes = dy == 0 ? (dx == 0 ? y.0 : y.1) : (dx == 0 ? y.2 : y.3)
                            var value = lanes[k] + bias
                            if let residual { value += residual[index] }
                            dst[index] = relu ? max(value, 0) : value
                        }
                    }
                }
            }
        }
    }
}
