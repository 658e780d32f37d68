import BERGCore
import CKernels
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
    /// Each worker takes a run of images through every step with single-threaded GEMMs: no
    /// step waits for another worker, and BLAS's own threads stay asleep rather than spin
    /// beside the non-linearities. Only φ of one voxel block is held at a time.
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
        let maps = featureMaps.map(\.floats)
        let mapStarts = maps.indices.map { k in maps[..<k].reduce(0) { $0 + $1.count } }
        var gradients = [Float](repeating: 0, count: maps.reduce(0) { $0 + $1.count })   // ∂s/∂F_k, one after another
        var rowSums = [Float](repeating: 0, count: voxelCount * batch)        // [v, b]: Σ_c nl(φ)·w
        let workers = Parallel.workers(for: batch)
        let perWorker = (batch + workers - 1) / workers
        let block = min(voxelCount, FWRFReadout.gradientVoxelBlock)
        let largest = zip(channelCounts, spatialSizes).map { $0 * $1 }.max() ?? 0
        // Per worker: φ of one voxel block, and A = nl(F) and nl′(F) of its images.
        let slot = block * perWorker * (channelCounts.max() ?? 0) + 2 * perWorker * largest
        let pointers = UncheckedSendable((maps, poolingFields, weights))
        rowSums.withUnsafeMutableBufferPointer { sp in
          gradients.withUnsafeMutableBufferPointer { op in
            ScratchPool.shared.withBuffer(count: workers * slot) { scratch in
                let sums = SendablePointer(sp.baseAddress!), buffers = SendablePointer(scratch), output = SendablePointer(op.baseAddress!)
                Parallel.forEach(workers) { worker, _ in
                    let (maps, fields, weights) = pointers.value
                    let first = worker * perWorker, count = min(perWorker, batch - first)
                    guard count > 0 else { return }
                    let phi = buffers.p + worker * slot
                    let activated = phi + block * perWorker * (self.channelCounts.max() ?? 0), slopes = activated + perWorker * largest
                    var featureOffset = 0
                    for k in maps.indices {
                        let c = self.channelCounts[k], s = self.spatialSizes[k], columns = count * c
                        let mapOffset = first * c * s, size = count * c * s
                        maps[k].withUnsafeBufferPointer { fp in
                            LogActivation.valuesAndSlopes(fp.baseAddress! + mapOffset, value: activated, slope: slopes, count: size)
                        }
                        let dA = output.p + mapStarts[k] + mapOffset
                        fields[k].withUnsafeBufferPointer { gp in
                            weights.withUnsafeBufferPointer { wp in
                                for v0 in stride(from: 0, to: self.voxelCount, by: block) {
                                    let nv = min(block, self.voxelCount - v0)
                                    let g = gp.baseAddress! + v0 * s
                                    // φ [nv, (b,c)] = g [nv, s] · Aᵀ
                                    GEMM.multiply(.fwrfReadout, m: nv, n: columns, k: s, a: g, lda: s,
                                                  b: activated, ldb: s, transposeB: true, c: phi, ldc: columns)
                                    // Each voxel's row: its sums, then φ ← w · nl′(φ).
                                    FWRFReadout.weightedSlopes(phi, rows: nv, images: count, channels: c,
                                                               weights: wp.baseAddress! + v0 * self.featureCount + featureOffset,
                                                               weightStride: self.featureCount, sums: sums.p + v0 * batch + first, sumStride: batch)
                                    // ∂s/∂A [(b,c), s] += φᵀ [(b,c), nv] · g [nv, s]
                                    GEMM.multiply(.fwrfReadout, m: columns, n: s, k: nv, a: phi, lda: columns, transposeA: true,
                                                  b: g, ldb: s, beta: v0 == 0 ? 0 : 1, c: dA, ldc: s)
                                }
                            }
                        }
                        for i in 0..<size { dA[i] *= slopes[i] }
                        featureOffset += c
                    }
                }
            }
          }
        }
        let biasSum = bias.reduce(0, +)
        var sums = [Float](repeating: biasSum, count: batch)
        for v in 0..<voxelCount { for b in 0..<batch { sums[b] += rowSums[v * batch + b] } }
        return (sums, try maps.indices.map { k in
            try Tensor(shape: featureMaps[k].shape, floats: Array(gradients[mapStarts[k]..<(mapStarts[k] + maps[k].count)]))
        })
    }

    var featureCount: Int { channelCounts.reduce(0, +) }

    /// For each voxel row of φ [rows, images·C]: adds Σ_c nl(φ)·w to that voxel's sum of each
    /// image, and replaces φ by w · nl′(φ).
    static func weightedSlopes(_ phi: UnsafeMutablePointer<Float>, rows: Int, images: Int, channels c: Int,
                               weights: UnsafePointer<Float>, weightStride: Int, sums: UnsafeMutablePointer<Float>, sumStride: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { buffer in
            let slope = buffer.baseAddress!
            for v in 0..<rows {
                let w = weights + v * weightStride
                for b in 0..<images {
                    let p = phi + (v * images + b) * c
                    // The forward's sums bit for bit (so that they equal the encoder's responses),
                    // and w · nl′(φ) from the same log and tanh.
                    sums[v * sumStride + b] += LogActivation.weightedSumAndSlopes(p, w, out: slope, count: c)
                    p.update(from: slope, count: c)
                }
            }
        }
    }
}

extension LogActivation {
    /// nl′(x) = |tanh x| / (1 + |x|) + log(1 + |x|) · (1 − tanh² x), with nl′(0) = 0 as PyTorch
    /// differentiates |x| there.
    public static func slope(_ x: Float) -> Float { berg_log_tanh_slope(x) }

    /// value[i] = nl(x[i]) (`apply`'s bits) and slope[i] = nl′(x[i]) from one log and one tanh;
    /// the three must not overlap.
    static func valuesAndSlopes(_ x: UnsafePointer<Float>, value: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>, count: Int) {
        berg_log_tanh_value_slope_array(x, value, slope, count)
    }

    /// `weightedSum(x, w)` bit for bit, and out[i] = w[i] · nl′(x[i]) in the same pass; out
    /// must not overlap x or w.
    static func weightedSumAndSlopes(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) -> Float {
        berg_log_tanh_dot_slope(x, w, out, count)
    }
}
