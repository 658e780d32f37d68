import BERGCore
import CBLAS
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

    public func callAsFunction(_ x: Tensor, activation: Activation = .none) throws -> Tensor {
        guard x.rank >= 1, x.shape[x.rank - 1] == inFeatures else {
            throw BERGError.shapeMismatch(what: "Linear input (…, \(inFeatures))", expected: [-1, inFeatures], actual: x.shape)
        }
        let rows = x.count / inFeatures
        var out = [Float](repeating: 0, count: rows * outFeatures)
        x.floats.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                apply(ip.baseAddress!, rows: rows, into: op.baseAddress!, activation: activation)
            }
        }
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        return Tensor(shape: shape, floats: out)
    }

    /// y[rows, out] = x[rows, in] · Wᵀ + b, then the activation.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, activation: Activation) {
        guard rows > 0 else { return }
        weight.withUnsafeBufferPointer { wp in
            if rows <= 4 {
                // A few rows: matrix-vector products stream the weights once each, where sgemm
                // would first copy (pack) the whole weight matrix.
                for r in 0..<rows {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures),
                                1, wp.baseAddress!, Int32(inFeatures), x + r * inFeatures, 1, 0, y + r * outFeatures, 1)
                }
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
                            1, x, Int32(inFeatures), wp.baseAddress!, Int32(inFeatures), 0, y, Int32(outFeatures))
            }
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
                case .gelu: for j in 0..<n { p[j] = Ops.geluScalar(p[j]) }
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
        return Tensor(shape: x.shape, floats: out)
    }

    func normalise(_ p: UnsafeMutablePointer<Float>) {
        let n = features
        var mean: Float = 0
        for j in 0..<n { mean += p[j] }
        mean /= Float(n)
        var variance: Float = 0
        for j in 0..<n { let d = p[j] - mean; variance += d * d }
        variance /= Float(n)
        let inv = 1 / (variance + eps).squareRoot()
        for j in 0..<n { p[j] = (p[j] - mean) * inv * weight[j] + bias[j] }
    }
}
