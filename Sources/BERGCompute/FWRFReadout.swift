import BERGCore
import Foundation

/// The readout of a feature-weighted receptive field (fwRF) model, as BERG's
/// `Torch_LayerwiseFWRF` computes it, fused into one operation.
///
/// For feature maps F_k [B, C_k, S_k] (S_k = H_k·W_k) and per-voxel pooling fields
/// g_k = softmax(rf_k) over space:
///
///     φ_k[v,b,c] = Σ_s g_k[v,s] · nl(F_k)[b,c,s]
///     y[b,v]     = Σ_k Σ_c nl(φ_k[v,b,c]) · w[v, offset_k + c] + bias[v]
///     nl(x)      = log(1 + |x|) · tanh(x)
///
/// PyTorch materialises φ as a [V, B, ΣC] tensor and runs the non-linearity over it; here each
/// (image block, voxel block, map) is one single-threaded sgemm into a small per-worker
/// buffer, which the non-linearity and the dot with w consume while it is still in cache;
/// workers take voxel blocks in parallel.
public struct FWRFReadout: Sendable {
    public let voxelCount: Int
    /// C_k: channels of each feature map.
    public let channelCounts: [Int]
    /// S_k: spatial positions (H·W) of each feature map.
    public let spatialSizes: [Int]
    /// g_k, [V, S_k] row-major: the softmax of each voxel's receptive field.
    let poolingFields: [[Float]]
    /// w, [V, ΣC_k].
    let weights: [Float]
    let bias: [Float]

    /// Images per block and voxels per block. A block's sgemm output is
    /// voxelBlock × imageBlock·C floats (at most 512 × 4·256 × 4 B = 2 MiB).
    static let voxelBlock = 512
    static let targetColumns = 1024

    /// - Parameters:
    ///   - receptiveFields: rf_k, each [V, H_k, W_k] (or [V, S_k]), float32.
    ///   - weights: w, [V, ΣC_k].
    ///   - bias: b, [V].
    ///   - channelCounts: C_k, in the order of `receptiveFields`.
    public init(receptiveFields: [Tensor], weights: Tensor, bias: Tensor, channelCounts: [Int]) throws {
        guard bias.rank == 1 else {
            throw BERGError.shapeMismatch(what: "fwRF bias b", expected: [-1], actual: bias.shape)
        }
        let voxels = bias.shape[0]
        guard voxels > 0 else {
            throw BERGError.invalidInput("fwRF readout: the bias b is empty; a readout needs at least one voxel")
        }
        guard receptiveFields.count == channelCounts.count, !channelCounts.isEmpty, channelCounts.allSatisfy({ $0 > 0 }) else {
            throw BERGError.invalidInput("fwRF readout: \(receptiveFields.count) receptive fields for \(channelCounts.count) feature maps")
        }
        let features = channelCounts.reduce(0, +)
        guard weights.shape == [voxels, features] else {
            throw BERGError.shapeMismatch(what: "fwRF weights w", expected: [voxels, features], actual: weights.shape)
        }
        var spatial: [Int] = []
        var fields: [[Float]] = []
        for (k, rf) in receptiveFields.enumerated() {
            guard rf.rank >= 2, rf.shape[0] == voxels, rf.count > 0 else {
                throw BERGError.shapeMismatch(what: "fwRF receptive field rf\(k)", expected: [voxels, -1, -1], actual: rf.shape)
            }
            let s = rf.count / voxels
            spatial.append(s)
            fields.append(FWRFReadout.softmaxRows(rf.floats, rows: voxels, columns: s))
        }
        self.voxelCount = voxels
        self.channelCounts = channelCounts
        self.spatialSizes = spatial
        self.poolingFields = fields
        self.weights = weights.floats
        self.bias = bias.floats
    }

    /// Row-wise softmax, as `torch.softmax(rf.flatten(1), dim=1)`.
    static func softmaxRows(_ x: [Float], rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)]
            let peak = row.max() ?? 0
            var sum: Double = 0
            for (j, value) in row.enumerated() {
                let e = Foundation.exp(value - peak)
                out[r * columns + j] = e
                sum += Double(e)
            }
            let scale = Float(1 / sum)
            for j in 0..<columns { out[r * columns + j] *= scale }
        }
        return out
    }

    /// Runs `body(block, worker)` for every block on `workers` threads, each block on one
    /// worker (its GEMMs single-threaded).
    static func forEachBlock(_ blocks: Int, workers: Int, _ body: (Int, Int) -> Void) {
        Parallel.run(workers) { worker in
            var block = worker
            while block < blocks { body(block, worker); block += workers }
        }
    }

    /// y [B, V] for feature maps F_k, each [B, C_k, H_k, W_k] (or [B, C_k, S_k]), float32.
    public func callAsFunction(_ featureMaps: [Tensor], threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> Tensor {
        try ComputeProfile.measure("fwrf readout") { try apply(featureMaps, threads: threads) }
    }

    private func apply(_ featureMaps: [Tensor], threads: Int) throws -> Tensor {
        guard featureMaps.count == channelCounts.count else {
            throw BERGError.invalidInput("fwRF readout takes \(channelCounts.count) feature maps, got \(featureMaps.count)")
        }
        let batch = featureMaps[0].shape.first ?? 0
        var maps: [[Float]] = []
        for (k, map) in featureMaps.enumerated() {
            guard map.rank >= 2, map.shape[0] == batch, map.shape[1] == channelCounts[k],
                  map.count == batch * channelCounts[k] * spatialSizes[k] else {
                throw BERGError.shapeMismatch(what: "fwRF feature map \(k)", expected: [batch, channelCounts[k], spatialSizes[k]],
                                              actual: map.shape)
            }
            guard case .float32(let values) = map.storage else {
                throw BERGError.invalidInput("fwRF feature map \(k) must be float32, got \(map.dtype.rawValue)")
            }
            maps.append(values)
        }
        var out = [Float](repeating: 0, count: batch * voxelCount)
        guard batch > 0 else { return try Tensor(shape: [0, voxelCount], floats: []) }
        let maxChannels = channelCounts.max() ?? 1
        let imageBlock = max(1, min(batch, FWRFReadout.targetColumns / max(1, maxChannels)))
        let featureCount = weights.count / max(1, voxelCount)
        // Voxel blocks of at most `voxelBlock`, their count a multiple of 4 so that 2 or 4
        // workers get the same share; each block runs a single-threaded GEMM. The blocks depend
        // on the voxel count alone, so every response is the same sum whatever the thread count.
        let minimumBlocks = (voxelCount + FWRFReadout.voxelBlock - 1) / FWRFReadout.voxelBlock
        let blockCount = min(voxelCount, (minimumBlocks + 3) / 4 * 4)
        let voxelBlock = (voxelCount + blockCount - 1) / blockCount
        let workers = max(1, min(threads, blockCount))

        // Scratch: nl(F_k) of one image block for every map, and one sgemm output block per worker.
        let mapSizes = zip(channelCounts, spatialSizes).map { $0 * $1 }
        let mapOffsets = mapSizes.indices.map { k in mapSizes[..<k].reduce(0, +) * imageBlock }
        var activated = [Float](repeating: 0, count: imageBlock * mapSizes.reduce(0, +))
        let pooledSize = voxelBlock * imageBlock * maxChannels
        var pooled = [Float](repeating: 0, count: workers * pooledSize)
        let channelCounts = self.channelCounts, spatialSizes = self.spatialSizes, voxelCount = self.voxelCount

        out.withUnsafeMutableBufferPointer { outBuffer in
            activated.withUnsafeMutableBufferPointer { activatedBuffer in
                pooled.withUnsafeMutableBufferPointer { pooledBuffer in
                    weights.withUnsafeBufferPointer { weightBuffer in
                        let y = ReadoutPointer(outBuffer.baseAddress!)
                        let act = ReadoutPointer(activatedBuffer.baseAddress!)
                        let phiBase = ReadoutPointer(pooledBuffer.baseAddress!)
                        let w = ReadoutPointer(UnsafeMutablePointer(mutating: weightBuffer.baseAddress!))
                        let fields = poolingFields.map { field in
                            field.withUnsafeBufferPointer { ReadoutPointer(UnsafeMutablePointer(mutating: $0.baseAddress!)) }
                        }
                        for b0 in stride(from: 0, to: batch, by: imageBlock) {
                            let nb = min(imageBlock, batch - b0)
                            // nl(F_k) for images b0..<b0+nb: contiguous [nb·C_k, S_k] per map.
                            for k in maps.indices {
                                let count = nb * mapSizes[k]
                                maps[k].withUnsafeBufferPointer { source in
                                    let src = ReadoutPointer(UnsafeMutablePointer(mutating: source.baseAddress! + b0 * mapSizes[k]))
                                    let dst = ReadoutPointer(act.pointer + mapOffsets[k])
                                    readoutParallel(count: count, threads: threads) { range in
                                        LogActivation.apply(src.pointer + range.lowerBound, dst.pointer + range.lowerBound, count: range.count)
                                    }
                                }
                            }
                            FWRFReadout.forEachBlock(blockCount, workers: workers) { block, worker in
                                let v0 = block * voxelBlock
                                let nv = min(voxelBlock, voxelCount - v0)
                                guard nv > 0 else { return }
                                let phi = phiBase.pointer + worker * pooledSize
                                var featureOffset = 0
                                for k in channelCounts.indices {
                                    let c = channelCounts[k], s = spatialSizes[k], columns = nb * c
                                    // φ[v, (b,c)] = Σ_s g[v,s] · nl(F)[(b,c), s]
                                    GEMM.multiply(.fwrfReadout, m: nv, n: columns, k: s, a: fields[k].pointer + v0 * s, lda: s,
                                                  b: act.pointer + mapOffsets[k], ldb: s, transposeB: true, c: phi, ldc: columns)
                                    for v in 0..<nv {
                                        // Σ_c nl(φ) · w over this voxel's pooled features, per image (L1-sized).
                                        let row = phi + v * columns
                                        let wRow = w.pointer + (v0 + v) * featureCount + featureOffset
                                        for bi in 0..<nb {
                                            y.pointer[(b0 + bi) * voxelCount + v0 + v] += LogActivation.weightedSum(row + bi * c, wRow, count: c)
                                        }
                                    }
                                    featureOffset += c
                                }
                            }
                        }
                    }
                }
            }
        }
        for b in 0..<batch {
            for v in 0..<voxelCount { out[b * voxelCount + v] += bias[v] }
        }
        return try Tensor(shape: [batch, voxelCount], floats: out)
    }
}

/// A raw pointer handed to worker threads that each touch a disjoint range of it.
fileprivate struct ReadoutPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// Runs `body` over `threads` contiguous slices of 0..<count, in parallel.
fileprivate func readoutParallel(count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    let parts = min(threads, count)
    Parallel.run(parts) { part in
        body((count * part / parts)..<(count * (part + 1) / parts))
    }
}
