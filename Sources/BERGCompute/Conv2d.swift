import BERGCore

/// A 2-d convolution (PyTorch `nn.Conv2d`, groups = 1) with an optional fused bias and ReLU.
/// BatchNorm2d in eval mode can be folded into it.
///
/// Where oneDNN is available it runs the convolution (`OneDNNConvolution`); otherwise, or
/// when a caller picks OpenBLAS (`GEMM.withBackend`), 3×3 stride-1 convolutions run as
/// Winograd F(2×2, 3×3) and the others as im2col, each with its GEMMs on OpenBLAS.
public struct Conv2d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Size2
    public let stride: Size2
    public let padding: Size2
    public let dilation: Size2
    /// Weights as [outChannels, inChannels·kh·kw], row-major (PyTorch's layout flattened).
    public private(set) var weight: [Float]
    public private(set) var bias: [Float]?
    /// The weights transformed for Winograd F(2×2, 3×3), made with the layer where that path
    /// applies and oneDNN is not available (and per call when a caller picks OpenBLAS).
    private(set) var winogradKernels: WinogradKernels?
    /// oneDNN's convolution (Winograd or direct), where oneDNN is available.
    private(set) var oneDNNConvolution: OneDNNConvolution?

    /// How a convolution can run.
    enum Implementation: Sendable {
        /// `OneDNNConvolution`.
        case oneDNN
        /// Winograd F(2×2, 3×3) with its GEMMs through `GEMM` (3×3, stride 1 only).
        case winograd
        /// im2col (or the input itself for 1×1) with the GEMM through `GEMM`.
        case im2col
    }

    /// `weight` is [out, in, kh, kw]; `bias` is [out] or nil.
    public init(weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0, dilation: Size2 = 1) throws {
        guard weight.rank == 4 else {
            throw BERGError.shapeMismatch(what: "Conv2d weight (out, in, kh, kw)", expected: [-1, -1, -1, -1], actual: weight.shape)
        }
        outChannels = weight.shape[0]; inChannels = weight.shape[1]
        kernel = Size2(weight.shape[2], weight.shape[3])
        if let bias, bias.shape != [outChannels] {
            throw BERGError.shapeMismatch(what: "Conv2d bias", expected: [outChannels], actual: bias.shape)
        }
        guard stride.h > 0, stride.w > 0, dilation.h > 0, dilation.w > 0, padding.h >= 0, padding.w >= 0 else {
            throw BERGError.invalidInput("Conv2d: stride \(stride) and dilation \(dilation) must be positive, padding \(padding) non-negative")
        }
        self.stride = stride; self.padding = padding; self.dilation = dilation
        self.weight = weight.floats
        self.bias = bias?.floats
        updateDerivedWeights()
    }

    /// Rebuilds what is derived from the weights (after BatchNorm folding too).
    private mutating func updateDerivedWeights() {
        oneDNNConvolution = OneDNNConvolution(weight: weight, bias: bias, outChannels: outChannels, inChannels: inChannels,
                                              kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        winogradKernels = winogradApplies && oneDNNConvolution == nil ? makeWinogradKernels() : nil
    }

    private func makeWinogradKernels() -> WinogradKernels {
        WinogradKernels(weight: weight, outChannels: outChannels, inChannels: inChannels)
    }

    /// The op class this convolution belongs to, for `GEMM.backend(for:)`.
    var opClass: GEMMOpClass { winogradApplies ? .winograd : .convolution }

    /// oneDNN when it is available and the op class's backend, else Winograd or im2col.
    var implementation: Implementation {
        if oneDNNConvolution != nil && GEMM.backend(for: opClass) == .oneDNN { return .oneDNN }
        return winogradApplies ? .winograd : .im2col
    }

    /// Output spatial size for an input of h × w.
    public func outputSize(h: Int, w: Int) -> Size2 {
        Size2((h + 2 * padding.h - dilation.h * (kernel.h - 1) - 1) / stride.h + 1,
              (w + 2 * padding.w - dilation.w * (kernel.w - 1) - 1) / stride.w + 1)
    }

    /// Folds an eval-mode BatchNorm2d that follows this convolution into its weights and bias.
    public mutating func foldBatchNorm(_ bn: BatchNorm2d) throws {
        guard bn.channels == outChannels else {
            throw BERGError.shapeMismatch(what: "BatchNorm2d folded into Conv2d", expected: [outChannels], actual: [bn.channels])
        }
        let k = inChannels * kernel.h * kernel.w
        var b = bias ?? [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let s = bn.scale[o]
            for j in 0..<k { weight[o * k + j] *= s }
            b[o] = b[o] * s + bn.shift[o]
        }
        bias = b
        updateDerivedWeights()
    }

    /// Target GEMM width (N) when several small images share one GEMM: measured on ResNet-18
    /// and AlexNet at batch 64, 2048 beat 512 (the weights are packed fewer times).
    static let groupColumns = 2048

    /// Applies the convolution to x [N, inChannels, H, W], adds `residual` (same shape as the
    /// output) when given, then ReLU when `relu` is true, all in the pass after the GEMM.
    public func callAsFunction(_ x: Tensor, relu: Bool = false, adding residual: Tensor? = nil) throws -> Tensor {
        try run(x, relu: relu, adding: residual, using: implementation)
    }

    /// As `callAsFunction`, by the given implementation (falling back from oneDNN when it has
    /// no primitive for this size, and from Winograd where it does not apply).
    func run(_ x: Tensor, relu: Bool, adding residual: Tensor?, using implementation: Implementation) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("Conv2d")
        guard c == inChannels else {
            throw BERGError.shapeMismatch(what: "Conv2d input channels", expected: [n, inChannels, h, w], actual: x.shape)
        }
        let o = outputSize(h: h, w: w)
        guard o.h > 0, o.w > 0 else {
            throw BERGError.invalidInput("Conv2d: input \(h)×\(w) is smaller than the kernel \(kernel) with padding \(padding) and dilation \(dilation)")
        }
        if let residual, residual.shape != [n, outChannels, o.h, o.w] {
            throw BERGError.shapeMismatch(what: "Conv2d residual", expected: [n, outChannels, o.h, o.w], actual: residual.shape)
        }
        let input = x.floats
        let extra = residual?.floats ?? []
        let outPlane = o.h * o.w, inPlane = h * w
        // Every output element is written by the GEMM (beta = 0), the group copy or the
        // Winograd output transform.
        var out = [Float](unsafeUninitializedCapacity: n * outChannels * outPlane) { _, count in
            count = n * outChannels * outPlane
        }
        if implementation == .oneDNN, let oneDNNConvolution {
            let done: Bool = input.withUnsafeBufferPointer { ip in
                extra.withUnsafeBufferPointer { rp in
                    out.withUnsafeMutableBufferPointer { op in
                        do {
                            try ComputeProfile.measure("  conv: oneDNN") {
                                try oneDNNConvolution.run(ip.baseAddress!, n: n, h: h, w: w, out: o,
                                                          residual: residual == nil ? nil : rp.baseAddress, relu: relu,
                                                          into: op.baseAddress!)
                            }
                            return true
                        } catch {
                            return false  // no primitive for this size: Winograd or im2col below
                        }
                    }
                }
            }
            if done { return try Tensor(shape: [n, outChannels, o.h, o.w], floats: out) }
        }
        if implementation != .im2col && winogradApplies {
            let kernels = winogradKernels ?? makeWinogradKernels()
            input.withUnsafeBufferPointer { ip in
                extra.withUnsafeBufferPointer { rp in
                    out.withUnsafeMutableBufferPointer { op in
                        ComputeProfile.measure("  conv: winograd") {
                            winograd(ip.baseAddress!, n: n, h: h, w: w, out: o, kernels: kernels,
                                     residual: residual == nil ? nil : rp.baseAddress, relu: relu, into: op.baseAddress!)
                        }
                    }
                }
            }
            return try Tensor(shape: [n, outChannels, o.h, o.w], floats: out)
        }
        let k = inChannels * kernel.h * kernel.w
        let direct = kernel == 1 && stride == 1 && padding == 0
        // Small outputs (late layers) fold several images into one GEMM's N so that the weights
        // are packed once per group rather than once per image; aim for N ≈ `groupColumns`.
        let group = direct ? 1 : max(1, min(Conv2d.groupColumns / max(outPlane, 1), (n + Parallel.workers(for: n) - 1) / Parallel.workers(for: n)))
        let groups = (n + group - 1) / group
        // With several groups and threads, one group per worker (BLAS single-threaded inside);
        // otherwise groups in order with BLAS threaded. One reused im2col buffer per worker.
        let workers = Parallel.workers(for: groups)
        let gemmThreads = workers == 1 ? ComputeThreads.count : 1
        let colSize = direct ? 0 : group * k * outPlane
        let tmpSize = group > 1 ? group * outChannels * outPlane : 0
        weight.withUnsafeBufferPointer { wp in
            input.withUnsafeBufferPointer { ip in
              extra.withUnsafeBufferPointer { rp in
                out.withUnsafeMutableBufferPointer { op in
                    ScratchPool.shared.withBuffer(count: workers * (colSize + tmpSize)) { sp in
                        let wPtr = wp.baseAddress!, iPtr = ip.baseAddress!
                        let rPtr: UnsafePointer<Float>? = residual == nil ? nil : rp.baseAddress
                        let oPtr = SendablePointer(op.baseAddress!)
                        let sPtr: SendablePointer<Float>? = SendablePointer(sp)
                        let biasValues = bias
                        let run: (Int, Int) -> Void = { g, slot in
                            let first = g * group, count = min(group, n - first)
                            let columns = count * outPlane
                            let a: UnsafePointer<Float>
                            if direct {
                                a = iPtr + first * c * inPlane
                            } else {
                                let col = sPtr!.p + slot * (colSize + tmpSize)
                                ComputeProfile.measure("  conv: im2col") {
                                    for j in 0..<count {
                                        self.im2col(iPtr + (first + j) * c * inPlane, h: h, w: w, out: o,
                                                    into: col + j * outPlane, rowStride: columns)
                                    }
                                }
                                a = UnsafePointer(col)
                            }
                            if group == 1 {
                                let dst = oPtr.p + first * outChannels * outPlane
                                ComputeProfile.measure("  conv: sgemm") {
                                    GEMM.multiply(.convolution, m: outChannels, n: columns, k: k, a: wPtr, lda: k,
                                                  b: a, ldb: columns, c: dst, ldc: columns, threads: gemmThreads)
                                }
                                Conv2d.epilogue(dst, from: dst, residual: rPtr.map { $0 + first * outChannels * outPlane },
                                                channels: outChannels, plane: outPlane, sourceStride: outPlane, bias: biasValues, relu: relu)
                            } else {
                                // [outChannels, count·outPlane] → each image's [outChannels, outPlane].
                                let tmp = sPtr!.p + slot * (colSize + tmpSize) + colSize
                                ComputeProfile.measure("  conv: sgemm") {
                                    GEMM.multiply(.convolution, m: outChannels, n: columns, k: k, a: wPtr, lda: k,
                                                  b: a, ldb: columns, c: tmp, ldc: columns, threads: gemmThreads)
                                }
                                for j in 0..<count {
                                    let image = (first + j) * outChannels * outPlane
                                    Conv2d.epilogue(oPtr.p + image, from: tmp + j * outPlane, residual: rPtr.map { $0 + image },
                                                    channels: outChannels, plane: outPlane, sourceStride: columns, bias: biasValues, relu: relu)
                                }
                            }
                        }
                        Parallel.forEach(groups, workers: workers, run)
                    }
                }
              }
            }
        }
        return try Tensor(shape: [n, outChannels, o.h, o.w], floats: out)
    }

    /// One pass over the GEMM result: dst[ch] = from[ch] + bias + residual[ch], then ReLU.
    /// `from` rows are `sourceStride` apart (it may be `dst` itself); dst and residual are dense.
    static func epilogue(_ dst: UnsafeMutablePointer<Float>, from: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                         channels: Int, plane: Int, sourceStride: Int, bias: [Float]?, relu: Bool) {
        if bias == nil && !relu && residual == nil && UnsafePointer(dst) == from { return }
        for ch in 0..<channels {
            let to = dst + ch * plane, src = from + ch * sourceStride
            let bv = bias?[ch] ?? 0
            if let residual {
                let r = residual + ch * plane
                if relu {
                    for i in 0..<plane { to[i] = max(src[i] + bv + r[i], 0) }
                } else {
                    for i in 0..<plane { to[i] = src[i] + bv + r[i] }
                }
            } else if relu {
                for i in 0..<plane { to[i] = max(src[i] + bv, 0) }
            } else {
                for i in 0..<plane { to[i] = src[i] + bv }
            }
        }
    }

    /// Unfolds one image [C, H, W] into columns [C·kh·kw, outH·outW] (rows `rowStride` apart),
    /// zeros where the window reaches into the padding.
    func im2col(_ src: UnsafePointer<Float>, h: Int, w: Int, out o: Size2, into col: UnsafeMutablePointer<Float>, rowStride: Int) {
        var row = 0
        for ch in 0..<inChannels {
            let plane = src + ch * h * w
            for ki in 0..<kernel.h {
                for kj in 0..<kernel.w {
                    let dst = col + row * rowStride
                    row += 1
                    let offW = kj * dilation.w - padding.w
                    // Output columns whose input column lies inside [0, w).
                    let owStart = offW >= 0 ? 0 : min(o.w, (-offW + stride.w - 1) / stride.w)
                    let owEnd = max(owStart, min(o.w, w - offW > 0 ? (w - offW + stride.w - 1) / stride.w : 0))
                    for oh in 0..<o.h {
                        let ih = oh * stride.h - padding.h + ki * dilation.h
                        let d = dst + oh * o.w
                        // Plain loops: rows are short (7–56 floats), too short for memcpy calls.
                        if ih < 0 || ih >= h {
                            for ow in 0..<o.w { d[ow] = 0 }
                            continue
                        }
                        let srow = plane + ih * w + offW
                        for ow in 0..<owStart { d[ow] = 0 }
                        if stride.w == 1 {
                            for ow in owStart..<owEnd { d[ow] = srow[ow] }
                        } else {
                            let sw = stride.w
                            for ow in owStart..<owEnd { d[ow] = srow[ow * sw] }
                        }
                        for ow in owEnd..<o.w { d[ow] = 0 }
                    }
                }
            }
        }
    }
}
