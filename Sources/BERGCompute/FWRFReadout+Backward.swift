import BERGCore
import CBLAS
import Foundation

extension FWRFReadout {
    /// The same readout for some of its voxels, in the order given.
    public func restricted(to voxels: [Int]) throws -> FWRFReadout {
        guard !voxels.isEmpty, voxels.allSatisfy({ (0..<voxelCount).contains($0) }) else {
            throw BERGError.invalidInput("fwRF readout: voxels must be in 0..<\(voxelCount) and at least one, got \(voxels.prefix(8))")
        }
        func rows(_ values: [Float], width: Int) -> [Float] {
            var out = [Float]()
            out.reserveCapacity(voxels.count * width)
            for v in voxels { out.append(contentsOf: values[(v * width)..<((v + 1) * width)]) }
            return out
        }
        let features = channelCounts.reduce(0, +)
        return FWRFReadout(voxelCount: voxels.count, channelCounts: channelCounts, spatialSizes: spatialSizes,
                           poolingFields: zip(poolingFields, spatialSizes).map { rows($0, width: $1) },
                           weights: rows(weights, width: features), bias: voxels.map { bias[$0] })
    }

    init(voxelCount: Int, channelCounts: [Int], spatialSizes: [Int], poolingFields: [[Float]], weights: [Float], bias: [Float]) {
        self.voxelCount = voxelCount
        self.channelCounts = channelCounts
        self.spatialSizes = spatialSizes
        self.poolingFields = poolingFields
        self.weights = weights
        self.bias = bias
    }

    /// Voxels per GEMM block in the backward pass: bounds φ's block to 1024 × images × C floats.
    static let gradientVoxelBlock = 1024

    /// For each image b, s_b = Σ_v y[b, v] over this readout's voxels, and ∂s_b/∂F_k for each
    /// feature map F_k [B, C_k, H_k, W_k]:
    ///
    ///     ∂s/∂φ_k[v,b,c] = w[v, offset_k + c] · nl′(φ_k[v,b,c])
    ///     ∂s/∂A_k[b,c,s] = Σ_v g_k[v,s] · ∂s/∂φ_k[v,b,c]      (A_k = nl(F_k); one GEMM per voxel block)
    ///     ∂s/∂F_k        = ∂s/∂A_k ⊙ nl′(F_k)
    ///
    /// Only φ of one voxel block is held at a time; the GEMMs run on all BLAS threads.
    public func sumsAndGradients(_ featureMaps: [Tensor]) throws -> (sums: [Float], gradients: [Tensor]) {
        guard featureMaps.count == channelCounts.count else {
            throw BERGError.invalidInput("fwRF readout takes \(channelCounts.count) feature maps, got \(featureMaps.count)")
        }
        let batch = featureMaps[0].shape.first ?? 0
        for (k, map) in featureMaps.enumerated() {
            guard map.rank >= 2, map.shape[0] == batch, map.shape[1] == channelCounts[k],
                  map.count == batch * channelCounts[k] * spatialSizes[k] else {
                throw BERGError.shapeMismatch(what: "fwRF feature map \(k)", expected: [batch, channelCounts[k], spatialSizes[k]], actual: map.shape)
            }
        }
        let featureCount = channelCounts.reduce(0, +)
        var rowSums = [Float](repeating: 0, count: voxelCount * batch)   // [v, b]: Σ_c nl(φ)·w
        var gradients: [Tensor] = []
        var featureOffset = 0
        for (k, map) in featureMaps.enumerated() {
            let c = channelCounts[k], s = spatialSizes[k], columns = batch * c
            let f = map.floats
            var activated = [Float](repeating: 0, count: f.count)      // A = nl(F), [(b,c), s]
            var slope = [Float](repeating: 0, count: f.count)          // nl′(F)
            f.withUnsafeBufferPointer { fp in
                activated.withUnsafeMutableBufferPointer { ap in
                    slope.withUnsafeMutableBufferPointer { dp in
                        let x = fp.baseAddress!, a = SendablePointer(ap.baseAddress!), d = SendablePointer(dp.baseAddress!)
                        Parallel.chunks(fp.count) { r in
                            LogActivation.apply(x + r.lowerBound, a.p + r.lowerBound, count: r.count)
                            LogActivation.derivative(x + r.lowerBound, d.p + r.lowerBound, count: r.count)
                        }
                    }
                }
            }
            var gradient = [Float](repeating: 0, count: f.count)       // ∂s/∂A, then ∂s/∂F
            let block = min(voxelCount, FWRFReadout.gradientVoxelBlock)
            var phi = [Float](repeating: 0, count: block * columns)
            poolingFields[k].withUnsafeBufferPointer { gp in
                activated.withUnsafeBufferPointer { ap in
                    phi.withUnsafeMutableBufferPointer { pp in
                        gradient.withUnsafeMutableBufferPointer { dp in
                            weights.withUnsafeBufferPointer { wp in
                                rowSums.withUnsafeMutableBufferPointer { sp in
                                    let phiPtr = SendablePointer(pp.baseAddress!), sums = SendablePointer(sp.baseAddress!)
                                    let w = wp.baseAddress!
                                    for v0 in stride(from: 0, to: voxelCount, by: block) {
                                        let nv = min(block, voxelCount - v0)
                                        let g = gp.baseAddress! + v0 * s
                                        // φ [nv, (b,c)] = g [nv, s] · Aᵀ
                                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(nv), Int32(columns), Int32(s),
                                                    1, g, Int32(s), ap.baseAddress!, Int32(s), 0, phiPtr.p, Int32(columns))
                                        // Each voxel's row: its sums, then φ ← w · nl′(φ).
                                        Parallel.chunks(nv, minChunk: 16) { rows in
                                            for v in rows {
                                                let row = phiPtr.p + v * columns
                                                let wRow = w + (v0 + v) * featureCount + featureOffset
                                                for b in 0..<batch {
                                                    let p = row + b * c
                                                    var sum: Float = 0
                                                    for j in 0..<c {
                                                        let value = p[j]
                                                        sum += LogActivation.evaluate(value) * wRow[j]
                                                        p[j] = wRow[j] * LogActivation.slope(value)
                                                    }
                                                    sums.p[(v0 + v) * batch + b] += sum
                                                }
                                            }
                                        }
                                        // ∂s/∂A [(b,c), s] += φᵀ [(b,c), nv] · g [nv, s]
                                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(columns), Int32(s), Int32(nv),
                                                    1, phiPtr.p, Int32(columns), g, Int32(s), v0 == 0 ? 0 : 1, dp.baseAddress!, Int32(s))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for i in gradient.indices { gradient[i] *= slope[i] }
            gradients.append(try Tensor(shape: map.shape, floats: gradient))
            featureOffset += c
        }
        let biasSum = bias.reduce(0, +)
        var sums = [Float](repeating: biasSum, count: batch)
        for v in 0..<voxelCount { for b in 0..<batch { sums[b] += rowSums[v * batch + b] } }
        return (sums, gradients)
    }
}

extension LogActivation {
    /// nl′(x) = |tanh x| / (1 + |x|) + log(1 + |x|) · (1 − tanh² x), with nl′(0) = 0 as PyTorch
    /// differentiates |x| there.
    @inline(__always)
    public static func slope(_ x: Float) -> Float {
        let a = Float(bitPattern: x.bitPattern & 0x7FFF_FFFF)
        let t = tanh(x, magnitude: a)
        let magnitude = Float(bitPattern: t.bitPattern & 0x7FFF_FFFF)
        return magnitude / (1 + a) + log(1 + a) * (1 - t * t)
    }

    /// out[i] = nl′(x[i]).
    public static func derivative(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = slope(x[i]) }
    }
}
