import BERGCore
import Foundation

/// Stateless tensor operations (Float32, NCHW). Layers with weights are types: `Conv2d`,
/// `BatchNorm2d`, `Linear`, `LayerNorm`, `MultiheadSelfAttention`.
public enum Ops {
    /// max(x, 0) element-wise.
    public static func relu(_ x: Tensor) throws -> Tensor { try map(x) { max($0, 0) } }

    /// GELU in PyTorch's default exact form, x · ½ · (1 + erf(x / √2)) (see `VectorMath.gelu`).
    public static func gelu(_ x: Tensor) throws -> Tensor {
        var out = x.floats
        let count = out.count
        out.withUnsafeMutableBufferPointer { op in
            let p = SendablePointer(op.baseAddress!)
            Parallel.chunks(count) { r in VectorMath.geluInPlace(p.p + r.lowerBound, count: r.count) }
        }
        return try Tensor(shape: x.shape, floats: out)
    }

    /// log1p(|x|) · tanh(x), the signed log compression some readouts apply to features.
    public static func signedLog1pTanh(_ x: Tensor) throws -> Tensor { try map(x) { log1pf(abs($0)) * tanhf($0) } }

    /// Dropout at inference is the identity.
    public static func dropout(_ x: Tensor) -> Tensor { x }

    /// Applies `f` to each element (as Float32), in parallel chunks for large tensors.
    public static func map(_ x: Tensor, _ f: (Float) -> Float) throws -> Tensor {
        var out = x.floats
        let count = out.count
        out.withUnsafeMutableBufferPointer { op in
            let p = SendablePointer(op.baseAddress!)
            Parallel.chunks(count) { r in for i in r { p.p[i] = f(p.p[i]) } }
        }
        return try Tensor(shape: x.shape, floats: out)
    }

    /// a + b element-wise, for tensors of the same shape.
    public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw BERGError.shapeMismatch(what: "add", expected: a.shape, actual: b.shape) }
        var out = a.floats
        let bv = b.floats
        out.withUnsafeMutableBufferPointer { op in
            bv.withUnsafeBufferPointer { bp in
                let p = SendablePointer(op.baseAddress!), q = bp.baseAddress!
                Parallel.chunks(op.count) { r in for i in r { p.p[i] += q[i] } }
            }
        }
        return try Tensor(shape: a.shape, floats: out)
    }

    /// Concatenates tensors along `axis` (default 1, channels); all other dimensions must agree.
    public static func concat(_ xs: [Tensor], axis: Int = 1) throws -> Tensor {
        guard let first = xs.first else { throw BERGError.invalidInput("concat: no tensors given") }
        let rank = first.rank
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 0, ax < rank else { throw BERGError.invalidInput("concat: axis \(axis) out of range for rank \(rank)") }
        for t in xs {
            guard t.rank == rank, zip(t.shape, first.shape).enumerated().allSatisfy({ $0.offset == ax || $0.element.0 == $0.element.1 }) else {
                throw BERGError.shapeMismatch(what: "concat along axis \(ax)", expected: first.shape, actual: t.shape)
            }
        }
        let outer = first.shape[..<ax].reduce(1, *)
        let inner = first.shape[(ax + 1)...].reduce(1, *)
        var shape = first.shape
        shape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
        var out = [Float]()
        out.reserveCapacity(Tensor.count(of: shape))
        let parts = xs.map { $0.floats }
        for o in 0..<outer {
            for (t, p) in zip(xs, parts) {
                let len = t.shape[ax] * inner
                out.append(contentsOf: p[(o * len)..<((o + 1) * len)])
            }
        }
        return try Tensor(shape: shape, floats: out)
    }

    /// Elements `range` along `axis` (default 1, channels).
    public static func slice(_ x: Tensor, _ range: Range<Int>, axis: Int = 1) throws -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        guard ax >= 0, ax < x.rank else { throw BERGError.invalidInput("slice: axis \(axis) out of range for rank \(x.rank)") }
        guard range.lowerBound >= 0, range.upperBound <= x.shape[ax] else {
            throw BERGError.invalidInput("slice: range \(range) outside 0..<\(x.shape[ax]) on axis \(ax) of shape \(x.shape)")
        }
        let outer = x.shape[..<ax].reduce(1, *)
        let inner = x.shape[(ax + 1)...].reduce(1, *)
        let v = x.floats
        var out = [Float]()
        out.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let base = (o * x.shape[ax] + range.lowerBound) * inner
            out.append(contentsOf: v[base..<(base + range.count * inner)])
        }
        var shape = x.shape
        shape[ax] = range.count
        return try Tensor(shape: shape, floats: out)
    }

    /// Softmax along `axis`, max-subtracted for stability.
    public static func softmax(_ x: Tensor, axis: Int = -1) throws -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        guard ax >= 0, ax < x.rank else { throw BERGError.invalidInput("softmax: axis \(axis) out of range for rank \(x.rank)") }
        let outer = x.shape[..<ax].reduce(1, *), len = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
        var out = x.floats
        out.withUnsafeMutableBufferPointer { op in
            let p = SendablePointer(op.baseAddress!)
            Parallel.forEach(outer) { o, _ in
                for i in 0..<inner { softmaxInPlace(p.p + o * len * inner + i, count: len, stride: inner) }
            }
        }
        return try Tensor(shape: x.shape, floats: out)
    }

    static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, count: Int, stride: Int) {
        if stride == 1 { return VectorMath.softmaxInPlace(p, count: count) }
        var m = -Float.infinity
        for k in 0..<count { m = max(m, p[k * stride]) }
        var s: Float = 0
        for k in 0..<count { let e = expf(p[k * stride] - m); p[k * stride] = e; s += e }
        let inv = 1 / s
        for k in 0..<count { p[k * stride] *= inv }
    }

    /// Reductions along one axis (the axis is removed from the shape).
    public enum Reduction: Sendable { case sum, mean, max, min }

    public static func reduce(_ x: Tensor, axis: Int, _ kind: Reduction) throws -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        guard ax >= 0, ax < x.rank, x.shape[ax] > 0 else { throw BERGError.invalidInput("reduce: axis \(axis) out of range or empty for shape \(x.shape)") }
        let outer = x.shape[..<ax].reduce(1, *), len = x.shape[ax], inner = x.shape[(ax + 1)...].reduce(1, *)
        let v = x.floats
        var out = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var acc: Float = kind == .max ? -.infinity : (kind == .min ? .infinity : 0)
                for k in 0..<len {
                    let e = v[(o * len + k) * inner + i]
                    switch kind {
                    case .sum, .mean: acc += e
                    case .max: acc = Swift.max(acc, e)
                    case .min: acc = Swift.min(acc, e)
                    }
                }
                out[o * inner + i] = kind == .mean ? acc / Float(len) : acc
            }
        }
        var shape = x.shape
        shape.remove(at: ax)
        return try Tensor(shape: shape, floats: out)
    }

    /// [N, C, H, W] → [N, C·H·W] (torch.flatten(x, 1)).
    public static func flatten(_ x: Tensor) throws -> Tensor {
        guard x.rank >= 1 else { return x }
        return try x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
    }
}
