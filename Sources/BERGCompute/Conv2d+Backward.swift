import BERGCore

/// The gradient of a convolution's loss with respect to its input, the weights held fixed,
/// prepared once per layer.
///
/// For stride 1 (undilated) the input gradient is itself a convolution: of dL/dy with the
/// kernels flipped and their in/out channels swapped, padded by k − 1 − p. That runs on the
/// forward engine (Winograd or im2col + GEMM). Otherwise dcol = Wᵀ · dL/dy, one GEMM per
/// image, folds the columns back onto the image (col2im, the adjoint of im2col).
///
/// `inputScale` multiplies each input channel's gradient: an eval-mode BatchNorm that comes
/// right before the convolution (y = conv(s ⊙ x + t)) has the input gradient s ⊙ convᵀ(dy).
/// Folding it into the weights is exact for the gradient, though not for the forward pass,
/// where the convolution pads the normalised input with zeros.
public struct Conv2dInputGradient: Sendable {
    let conv: Conv2d
    /// The stride-1 form: the transposed convolution, with `inputScale` folded in.
    let transposed: Conv2d?
    /// Weights [out, in·kh·kw] with `inputScale` folded in, for the strided form.
    let weight: [Float]

    public init(_ conv: Conv2d, inputScale: [Float]? = nil) throws {
        if let inputScale, inputScale.count != conv.inChannels {
            throw BERGError.shapeMismatch(what: "Conv2d input-gradient scale", expected: [conv.inChannels], actual: [inputScale.count])
        }
        self.conv = conv
        let (cin, cout, kh, kw) = (conv.inChannels, conv.outChannels, conv.kernel.h, conv.kernel.w)
        let taps = kh * kw
        var scaled = conv.weight
        if let inputScale {
            for o in 0..<cout {
                for c in 0..<cin {
                    let s = inputScale[c], base = (o * cin + c) * taps
                    for t in 0..<taps { scaled[base + t] *= s }
                }
            }
        }
        weight = scaled
        // The transposed convolution pays where it runs as Winograd, or where its im2col is no
        // larger than the columns' (out ≤ in); otherwise the columns' GEMM and col2im move
        // out/in times less memory.
        let stride1 = conv.stride == 1 && conv.dilation == 1 && conv.padding.h < kh && conv.padding.w < kw
        guard stride1 else { transposed = nil; return }
        // W'[c, o, i, j] = W[o, c, kh − 1 − i, kw − 1 − j]
        var flipped = [Float](repeating: 0, count: scaled.count)
        for o in 0..<cout {
            for c in 0..<cin {
                for i in 0..<kh {
                    for j in 0..<kw {
                        flipped[((c * cout + o) * kh + i) * kw + j] = scaled[((o * cin + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)]
                    }
                }
            }
        }
        let candidate = try Conv2d(weight: Tensor(shape: [cin, cout, kh, kw], floats: flipped),
                                   padding: Size2(kh - 1 - conv.padding.h, kw - 1 - conv.padding.w))
        transposed = candidate.usesWinograd || cout <= cin ? candidate : nil
    }

    /// dL/dx [N, in, h, w] for dL/dy [N, out, oh, ow], where the forward input was h × w.
    public func callAsFunction(_ dy: Tensor, inputHeight h: Int, inputWidth w: Int) throws -> Tensor {
        let (n, c, oh, ow) = try dy.nchw("Conv2d input gradient")
        let o = conv.outputSize(h: h, w: w)
        guard c == conv.outChannels, o.h == oh, o.w == ow else {
            throw BERGError.shapeMismatch(what: "Conv2d output gradient", expected: [n, conv.outChannels, o.h, o.w], actual: dy.shape)
        }
        if let transposed {
            let dx = try ComputeProfile.measure("  conv backward: transposed \(conv.kernel.h)×\(conv.kernel.w) \(conv.outChannels)→\(conv.inChannels)") { try transposed(dy) }
            // With stride 1 the output covers the input exactly (k − 1 − p on each side).
            guard dx.shape == [n, conv.inChannels, h, w] else {
                throw BERGError.shapeMismatch(what: "Conv2d transposed gradient", expected: [n, conv.inChannels, h, w], actual: dx.shape)
            }
            return dx
        }
        return try ComputeProfile.measure("  conv backward: columns \(conv.kernel.h)×\(conv.kernel.w) stride \(conv.stride.h)") {
            try columnGradient(dy.floats, n: n, h: h, w: w, out: o)
        }
    }

    /// dx = col2im(Wᵀ · dy), one image group per worker.
    private func columnGradient(_ dy: [Float], n: Int, h: Int, w: Int, out o: Size2) throws -> Tensor {
        let cin = conv.inChannels, cout = conv.outChannels
        let k = cin * conv.kernel.h * conv.kernel.w
        let outPlane = o.h * o.w, inSize = cin * h * w
        var dx = [Float](repeating: 0, count: n * inSize)
        let workers = Parallel.workers(for: n)
        let colSize = k * outPlane
        weight.withUnsafeBufferPointer { wp in
            dy.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { xp in
                    ScratchPool.shared.withBuffer(count: workers * colSize) { scratch in
                        let wPtr = wp.baseAddress!, gPtr = gp.baseAddress!
                        let out = SendablePointer(xp.baseAddress!), cols = SendablePointer(scratch)
                        Parallel.forEach(n) { image, slot in
                            let col = cols.p + slot * colSize
                            // [k, P] = Wᵀ [k, out] · dy [out, P]
                            GEMM.multiply(.convolution, m: k, n: outPlane, k: cout, a: wPtr, lda: k, transposeA: true,
                                          b: gPtr + image * cout * outPlane, ldb: outPlane, c: col, ldc: outPlane)
                            self.conv.col2im(col, h: h, w: w, out: o, into: out.p + image * inSize)
                        }
                    }
                }
            }
        }
        return try Tensor(shape: [n, cin, h, w], floats: dx)
    }
}

extension Conv2d {
    /// The adjoint of `im2col`: adds each column entry [C·kh·kw, outH·outW] back onto the
    /// input position [C, H, W] it was read from (`dst` starts at zero); padding taps drop out.
    func col2im(_ col: UnsafePointer<Float>, h: Int, w: Int, out o: Size2, into dst: UnsafeMutablePointer<Float>) {
        let rowStride = o.h * o.w
        var row = 0
        for ch in 0..<inChannels {
            let plane = dst + ch * h * w
            for ki in 0..<kernel.h {
                for kj in 0..<kernel.w {
                    let src = col + row * rowStride
                    row += 1
                    let offW = kj * dilation.w - padding.w
                    let owStart = offW >= 0 ? 0 : min(o.w, (-offW + stride.w - 1) / stride.w)
                    let owEnd = max(owStart, min(o.w, w - offW > 0 ? (w - offW + stride.w - 1) / stride.w : 0))
                    for oh in 0..<o.h {
                        let ih = oh * stride.h - padding.h + ki * dilation.h
                        guard ih >= 0, ih < h else { continue }
                        let drow = plane + ih * w + offW, s = src + oh * o.w
                        let sw = stride.w
                        for ow in owStart..<owEnd { drow[ow * sw] += s[ow] }
                    }
                }
            }
        }
    }
}
