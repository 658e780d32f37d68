import BERGCore

/// BatchNorm2d in eval mode: y = (x − mean) / sqrt(var + eps) · γ + β per channel, kept as a
/// per-channel scale and shift so that it can also be folded into an adjacent convolution.
public struct BatchNorm2d: Sendable {
    public let channels: Int
    /// γ / sqrt(var + eps)
    public let scale: [Float]
    /// β − mean · scale
    public let shift: [Float]

    public init(weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5) throws {
        let c = runningMean.count
        for (name, t) in [("weight", weight), ("bias", bias), ("running_mean", Optional(runningMean)), ("running_var", Optional(runningVar))] {
            if let t, t.shape != [c] { throw BERGError.shapeMismatch(what: "BatchNorm2d \(name)", expected: [c], actual: t.shape) }
        }
        channels = c
        let mean = runningMean.floats, variance = runningVar.floats
        let gamma = weight?.floats ?? [Float](repeating: 1, count: c)
        let beta = bias?.floats ?? [Float](repeating: 0, count: c)
        var s = [Float](repeating: 0, count: c), t = [Float](repeating: 0, count: c)
        for i in 0..<c {
            s[i] = gamma[i] / (variance[i] + eps).squareRoot()
            t[i] = beta[i] - mean[i] * s[i]
        }
        scale = s; shift = t
    }

    /// Applies the normalisation to x [N, C, H, W] (or [N, C]), then ReLU when `relu` is true.
    public func callAsFunction(_ x: Tensor, relu: Bool = false) throws -> Tensor {
        guard x.rank >= 2, x.shape[1] == channels else {
            throw BERGError.shapeMismatch(what: "BatchNorm2d input channels", expected: [-1, channels, -1, -1], actual: x.shape)
        }
        let n = x.shape[0]
        let plane = x.shape.dropFirst(2).reduce(1, *)
        var out = x.floats
        let scale = self.scale, shift = self.shift, channels = self.channels
        out.withUnsafeMutableBufferPointer { op in
            let p = SendablePointer(op.baseAddress!)
            Parallel.forEach(n) { b, _ in
                for ch in 0..<channels {
                    let row = p.p + (b * channels + ch) * plane
                    let s = scale[ch], t = shift[ch]
                    if relu {
                        for i in 0..<plane { row[i] = max(row[i] * s + t, 0) }
                    } else {
                        for i in 0..<plane { row[i] = row[i] * s + t }
                    }
                }
            }
        }
        return try Tensor(shape: x.shape, floats: out)
    }
}
