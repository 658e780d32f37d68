import BERGCore
import Foundation

/// Self-attention as PyTorch `nn.MultiheadAttention(batch_first=True)` computes it when query,
/// key and value are the same tensor: one packed in-projection (`in_proj_weight` [3D, D],
/// `in_proj_bias`), scaled dot-product attention per head, then `out_proj`.
public struct MultiheadSelfAttention: Sendable {
    public let embedDim: Int
    public let heads: Int
    let inProjection: Linear
    let outProjection: Linear

    public init(inProjWeight: Tensor, inProjBias: Tensor?, outProjWeight: Tensor, outProjBias: Tensor?, heads: Int) throws {
        let d = outProjWeight.shape.first ?? 0
        guard inProjWeight.shape == [3 * d, d] else {
            throw BERGError.shapeMismatch(what: "MultiheadAttention in_proj_weight", expected: [3 * d, d], actual: inProjWeight.shape)
        }
        guard heads > 0, d % heads == 0 else {
            throw BERGError.invalidInput("MultiheadAttention: embedding size \(d) is not divisible by \(heads) heads")
        }
        embedDim = d; self.heads = heads
        inProjection = try Linear(weight: inProjWeight, bias: inProjBias)
        outProjection = try Linear(weight: outProjWeight, bias: outProjBias)
    }

    /// x [B, T, D] → [B, T, D]; with `residual` ([B, T, D]), residual + attention(x).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil) throws -> Tensor {
        guard x.rank == 3, x.shape[2] == embedDim else {
            throw BERGError.shapeMismatch(what: "MultiheadAttention input (B, T, \(embedDim))", expected: [-1, -1, embedDim], actual: x.shape)
        }
        let b = x.shape[0], t = x.shape[1], d = embedDim, hd = d / heads
        let qkv = try inProjection(x).floats  // [B, T, 3D]
        var context = [Float](repeating: 0, count: b * t * d)
        let scale = 1 / Float(hd).squareRoot()
        let heads = self.heads
        let workers = Parallel.workers(for: b)
        var scratch = [Float](repeating: 0, count: workers * t * t)
        qkv.withUnsafeBufferPointer { qp in
            context.withUnsafeMutableBufferPointer { cp in
                scratch.withUnsafeMutableBufferPointer { sp in
                    let q0 = qp.baseAddress!, c0 = SendablePointer(cp.baseAddress!), s0 = SendablePointer(sp.baseAddress!)
                    Parallel.forEach(b, workers: workers) { item, worker in
                        let base = q0 + item * t * 3 * d
                        let scores = s0.p + worker * t * t
                        for h in 0..<heads {
                            let q = base + h * hd, k = base + d + h * hd, v = base + 2 * d + h * hd
                            // scores = (Q · scale) Kᵀ
                            GEMM.multiply(.attention, m: t, n: t, k: hd, alpha: scale, a: q, lda: 3 * d,
                                          b: k, ldb: 3 * d, transposeB: true, c: scores, ldc: t)
                            for row in 0..<t { VectorMath.softmaxInPlace(scores + row * t, count: t) }
                            GEMM.multiply(.attention, m: t, n: hd, k: t, a: scores, lda: t,
                                          b: v, ldb: 3 * d, c: c0.p + item * t * d + h * hd, ldc: d)
                        }
                    }
                }
            }
        }
        return try outProjection(try Tensor(shape: [b, t, d], floats: context), adding: residual)
    }
}
