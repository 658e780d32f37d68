import BERGCore

/// Where each max-pooling output came from: the offset of the winning tap in its input plane.
public struct MaxPoolIndices: Sendable {
    /// [N, C, outH, outW] offsets y·W + x into the plane of the same (n, c).
    let offsets: [Int32]
    public let inputShape: [Int]
    public let outputShape: [Int]
}

/// Input gradients of the stateless operations (the weights of layers are fixed).
extension Ops {
    /// `maxPool2d`, also saying which tap won each window, by PyTorch's rule (scan the window
    /// row by row; a tap wins when greater than the best so far, or NaN), so that the gradient
    /// goes where PyTorch's backward pass sends it; ties go to the first tap.
    public static func maxPool2dWithIndices(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0,
                                            ceilMode: Bool = false) throws -> (output: Tensor, indices: MaxPoolIndices) {
        let (n, c, h, w) = try x.nchw("MaxPool2d")
        let s = stride ?? kernel
        guard kernel.h > 0, kernel.w > 0, s.h > 0, s.w > 0, padding.h >= 0, padding.w >= 0,
              padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w else {
            throw BERGError.invalidInput("MaxPool2d: kernel \(kernel) and stride \(s) must be positive, padding \(padding) at most half the kernel")
        }
        let oh = pooledLength(h, kernel: kernel.h, stride: s.h, padding: padding.h, dilation: 1, ceilMode: ceilMode)
        let ow = pooledLength(w, kernel: kernel.w, stride: s.w, padding: padding.w, dilation: 1, ceilMode: ceilMode)
        guard oh > 0, ow > 0 else { throw BERGError.invalidInput("MaxPool2d: input \(h)×\(w) is too small for kernel \(kernel)") }
        let input = x.floats
        var out = [Float](repeating: 0, count: n * c * oh * ow)
        var offsets = [Int32](repeating: 0, count: out.count)
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                offsets.withUnsafeMutableBufferPointer { xp in
                    let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!), arg = SendablePointer(xp.baseAddress!)
                    Parallel.forEach(n * c) { plane, _ in
                        let sp = src + plane * h * w, base = plane * oh * ow
                        for i in 0..<oh {
                            let y0 = max(i * s.h - padding.h, 0), y1 = min(i * s.h - padding.h + kernel.h, h)
                            for j in 0..<ow {
                                let x0 = max(j * s.w - padding.w, 0), x1 = min(j * s.w - padding.w + kernel.w, w)
                                var best = -Float.infinity, at = y0 * w + x0
                                for y in y0..<y1 {
                                    for xx in x0..<x1 {
                                        let v = sp[y * w + xx]
                                        if v > best || v.isNaN { best = v; at = y * w + xx }
                                    }
                                }
                                dst.p[base + i * ow + j] = best
                                arg.p[base + i * ow + j] = Int32(at)
                            }
                        }
                    }
                }
            }
        }
        return (try Tensor(shape: [n, c, oh, ow], floats: out),
                MaxPoolIndices(offsets: offsets, inputShape: x.shape, outputShape: [n, c, oh, ow]))
    }

    /// The input gradient of max pooling: each output's gradient goes to its winning tap.
    public static func maxPool2dGradient(_ dy: Tensor, indices: MaxPoolIndices) throws -> Tensor {
        guard dy.shape == indices.outputShape else {
            throw BERGError.shapeMismatch(what: "MaxPool2d output gradient", expected: indices.outputShape, actual: dy.shape)
        }
        let planes = indices.inputShape[0] * indices.inputShape[1]
        let inPlane = indices.inputShape[2] * indices.inputShape[3]
        let outPlane = indices.outputShape[2] * indices.outputShape[3]
        var dx = [Float](repeating: 0, count: planes * inPlane)
        let g = dy.floats
        g.withUnsafeBufferPointer { gp in
            indices.offsets.withUnsafeBufferPointer { ip in
                dx.withUnsafeMutableBufferPointer { xp in
                    let grad = gp.baseAddress!, at = ip.baseAddress!, out = SendablePointer(xp.baseAddress!)
                    Parallel.forEach(planes) { plane, _ in
                        let d = out.p + plane * inPlane
                        for k in plane * outPlane ..< (plane + 1) * outPlane { d[Int(at[k])] += grad[k] }
                    }
                }
            }
        }
        return try Tensor(shape: indices.inputShape, floats: dx)
    }

    /// The input gradient of `adaptiveAvgPool2d` for an input of h × w: each output's gradient
    /// spread evenly over its window.
    public static func adaptiveAvgPool2dGradient(_ dy: Tensor, inputHeight h: Int, inputWidth w: Int) throws -> Tensor {
        let (n, c, oh, ow) = try dy.nchw("AdaptiveAvgPool2d gradient")
        let g = dy.floats
        var dx = [Float](repeating: 0, count: n * c * h * w)
        dx.withUnsafeMutableBufferPointer { xp in
            let out = SendablePointer(xp.baseAddress!)
            Parallel.forEach(n * c) { plane, _ in
                let d = out.p + plane * h * w
                for i in 0..<oh {
                    let hs = (i * h) / oh, he = ((i + 1) * h + oh - 1) / oh
                    for j in 0..<ow {
                        let ws = (j * w) / ow, we = ((j + 1) * w + ow - 1) / ow
                        let share = g[plane * oh * ow + i * ow + j] / Float((he - hs) * (we - ws))
                        for y in hs..<he { for x in ws..<we { d[y * w + x] += share } }
                    }
                }
            }
        }
        return try Tensor(shape: [n, c, h, w], floats: dx)
    }

    /// dy where the ReLU's output is positive, else 0 (PyTorch's threshold backward).
    public static func reluGradient(_ dy: Tensor, output: Tensor) throws -> Tensor {
        guard dy.shape == output.shape else { throw BERGError.shapeMismatch(what: "ReLU gradient", expected: output.shape, actual: dy.shape) }
        var g = dy.floats
        let y = output.floats
        g.withUnsafeMutableBufferPointer { gp in
            y.withUnsafeBufferPointer { yp in
                let grad = SendablePointer(gp.baseAddress!), out = yp.baseAddress!
                Parallel.chunks(gp.count) { r in for i in r where !(out[i] > 0) { grad.p[i] = 0 } }
            }
        }
        return try Tensor(shape: dy.shape, floats: g)
    }

    /// `into` [N, C, …] plus `part` [N, C', …] added at channels offset..<offset + C' (the
    /// input gradient of a channel slice or one part of a concatenation).
    public static func addChannels(_ part: Tensor, into total: inout Tensor, at offset: Int) throws {
        guard part.rank == total.rank, part.rank >= 2, part.shape[0] == total.shape[0],
              Array(part.shape.dropFirst(2)) == Array(total.shape.dropFirst(2)),
              offset >= 0, offset + part.shape[1] <= total.shape[1] else {
            throw BERGError.shapeMismatch(what: "channel slice at \(offset)", expected: total.shape, actual: part.shape)
        }
        let inner = part.shape.dropFirst(2).reduce(1, *)
        let (n, cp, ct) = (part.shape[0], part.shape[1], total.shape[1])
        var values = total.floats
        let p = part.floats
        for b in 0..<n {
            let dst = (b * ct + offset) * inner, src = b * cp * inner
            for i in 0..<(cp * inner) { values[dst + i] += p[src + i] }
        }
        total = try Tensor(shape: total.shape, floats: values)
    }
}
