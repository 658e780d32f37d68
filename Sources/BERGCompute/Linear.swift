import BERGCore
import Foundation

/// PyTorch `nn.Linear`: y = x Wᵀ + b over the last axis of x, with an optional fused activation.
public struct Linear: Sendable {
    public enum Activation: Sendable { case none, relu, gelu }

    public let inFeatures: Int
    public let outFeatures: Int
    /// [outFeatures, inFeatures], row-major.
    public let weight: [Float]
    public let bias: [Float]?

    public init(weight: Tensor, bias: Tensor? = nil) throws {
        guard weight.rank == 2 else { throw BERGError.shapeMismatch(what: "Linear weight (out, in)", expected: [-1, -1], actual: weight.shape) }
        outFeatures = weight.shape[0]; inFeatures = weight.shape[1]
        if let bias, bias.shape != [outFeatures] { throw BERGError.shapeMismatch(what: "Linear bias", expected: [outFeatures], actual: bias.shape) }
        self.weight = weight.floats
        self.bias = bias?.floats
    }

    /// y = x Wᵀ + b, then the activation; with `residual` (y's shape), y = residual + x Wᵀ + b,
    /// the sum accumulated by the GEMM itself rather than in another pass.
    public func callAsFunction(_ x: Tensor, activation: Activation = .none, adding residual: Tensor? = nil) throws -> Tensor {
        guard x.rank >= 1, x.shape[x.rank - 1] == inFeatures else {
            throw BERGError.shapeMismatch(what: "Linear input (…, \(inFeatures))", expected: [-1, inFeatures], actual: x.shape)
        }
        let rows = x.count / inFeatures
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        if let residual, residual.shape != shape {
            throw BERGError.shapeMismatch(what: "Linear residual", expected: shape, actual: residual.shape)
        }
        // Without a residual every element is written by the GEMM (beta = 0).
        var out = residual?.floats ?? [Float](unsafeUninitializedCapacity: rows * outFeatures) { _, count in
            count = rows * outFeatures
        }
        x.floats.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                apply(ip.baseAddress!, rows: rows, into: op.baseAddress!, accumulate: residual != nil, activation: activation)
            }
        }
        return try Tensor(shape: shape, floats: out)
    }

    /// y[rows, out] = x[rows, in] · Wᵀ + b (+ y when `accumulate`), then the activation.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
               activation: Activation) {
        guard rows > 0 else { return }
        let beta: Float = accumulate ? 1 : 0
        weight.withUnsafeBufferPointer { wp in
            GEMM.multiply(.linear, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                          b: wp.baseAddress!, ldb: inFeatures, transposeB: true, beta: beta, c: y, ldc: outFeatures,
                          threads: ComputeThreads.count)
        }
        let n = outFeatures
        let b = bias
        Parallel.chunks(rows, minChunk: max(1, 16_384 / max(n, 1))) { r in
            for row in r {
                let p = y + row * n
                if let b { for j in 0..<n { p[j] += b[j] } }
                switch activation {
                case .none: break
                case .relu: for j in 0..<n { p[j] = max(p[j], 0) }
                case .gelu: VectorMath.geluInPlace(p, count: n)
                }
            }
        }
    }
}

/// PyTorch `nn.LayerNorm` over the last axis (biased variance, eps inside the square root).
public struct LayerNorm: Sendable {
    public let features: Int
    public let weight: [Float]
    public let bias: [Float]
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Float = 1e-5) throws {
        guard weight.rank == 1, bias.shape == weight.shape else {
            throw BERGError.shapeMismatch(what: "LayerNorm bias", expected: weight.shape, actual: bias.shape)
        }
        features = weight.count
        self.weight = weight.floats; self.bias = bias.floats; self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1, x.shape[x.rank - 1] == features else {
            throw BERGError.shapeMismatch(what: "LayerNorm input (…, \(features))", expected: [-1, features], actual: x.shape)
        }
        var out = x.floats
        let rows = x.count / max(features, 1)
        out.withUnsafeMutableBufferPointer { op in
            let p = SendablePointer(op.baseAddress!)
            Parallel.chunks(rows, minChunk: 64) { r in
                for row in r { self.normalise(p.p + row * self.features) }
            }
        }
        return try Tensor(shape: x.shape, floats: out)
    }

    func normalise(_ p: UnsafeMutablePointer<Float>) {
        let n = features
        let mean = VectorMath.sum(p, count: n) / Float(n)
        let variance = VectorMath.sumOfSquares(p, count: n, minus: mean) / Float(n)
        let inv = 1 / (variance + eps).squareRoot()
        for j in 0..<n { p[j] = (p[j] - mean) * inv * weight[j] + bias[j] }
    }
}
