import BERGCore

/// Output length of a pooling window along one axis, with PyTorch's ceil_mode rule: the last
/// window must start inside the input or the left padding.
func pooledLength(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * padding - dilation * (kernel - 1) - 1
    var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
    if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
    return out
}

extension Ops {
    /// PyTorch `max_pool2d`: padding counts as −∞.
    public static func maxPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0,
                                 dilation: Size2 = 1, ceilMode: Bool = false) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("MaxPool2d")
        let s = stride ?? kernel
        try checkPool("MaxPool2d", kernel: kernel, stride: s, padding: padding)
        let oh = pooledLength(h, kernel: kernel.h, stride: s.h, padding: padding.h, dilation: dilation.h, ceilMode: ceilMode)
        let ow = pooledLength(w, kernel: kernel.w, stride: s.w, padding: padding.w, dilation: dilation.w, ceilMode: ceilMode)
        guard oh > 0, ow > 0 else { throw BERGError.invalidInput("MaxPool2d: input \(h)×\(w) is too small for kernel \(kernel)") }
        // Input rows of each output row's window (those inside the input), flattened:
        // rowTaps[i · kernel.h + t] for t < rowTapCount[i].
        var rowTaps = [Int](repeating: 0, count: oh * kernel.h), rowTapCount = [Int](repeating: 0, count: oh)
        for i in 0..<oh {
            for t in 0..<kernel.h {
                let y = i * s.h - padding.h + t * dilation.h
                if y >= 0 && y < h { rowTaps[i * kernel.h + rowTapCount[i]] = y; rowTapCount[i] += 1 }
            }
        }
        // Separable: the max down each window's rows into one row (contiguous, vectorised),
        // then across each window's columns. The row sits in a buffer that is −∞ in the padding
        // and past the input (ceil_mode), so the column pass needs no bounds checks.
        // NaN propagates, as in PyTorch, and does so in either order.
        let bufferWidth = max(padding.w + w, (ow - 1) * s.w + (kernel.w - 1) * dilation.w + 1) + 2 * PoolLanes.scalarCount
        let input = x.floats
        var out = [Float](unsafeUninitializedCapacity: n * c * oh * ow) { _, count in count = n * c * oh * ow }
        input.withUnsafeBufferPointer { ip in
          rowTaps.withUnsafeBufferPointer { tp in
            rowTapCount.withUnsafeBufferPointer { cp in
            out.withUnsafeMutableBufferPointer { op in
                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                let taps = tp.baseAddress!, tapCount = cp.baseAddress!
                Parallel.forEach(n * c) { plane, _ in
                    let sp = src + plane * h * w, dp = dst.p + plane * oh * ow
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: bufferWidth) { buffer in
                        let row = buffer.baseAddress!
                        row.initialize(repeating: -.infinity, count: bufferWidth)
                        let m = row + padding.w  // m[x] for input column x
                        for i in 0..<oh {
                            let rows = taps + i * kernel.h, count = tapCount[i]
                            if count == 0 {
                                m.update(repeating: -.infinity, count: w)
                            } else {
                                m.update(from: sp + rows[0] * w, count: w)
                                for t in 1..<count { maxInPlace(m, sp + rows[t] * w, count: w) }
                            }
                            let d = dp + i * ow
                            if s.w == 2 && kernel.w == 3 && dilation.w == 1 {
                                maxOfThreeStrideTwo(row, count: ow, into: d)
                            } else {
                                for j in 0..<ow {
                                    let window = row + j * s.w
                                    var best = window[0]
                                    for t in 1..<kernel.w {
                                        let v = window[t * dilation.w]
                                        if v > best || v.isNaN { best = v }
                                    }
                                    d[j] = best
                                }
                            }
                        }
                    }
                }
            }
            }
          }
        }
        return try Tensor(shape: [n, c, oh, ow], floats: out)
    }

    /// PyTorch `avg_pool2d` (count_include_pad counts the zero padding but never the part of a
    /// ceil_mode window past the padded input).
    public static func avgPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0,
                                 ceilMode: Bool = false, countIncludePad: Bool = true) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("AvgPool2d")
        let s = stride ?? kernel
        try checkPool("AvgPool2d", kernel: kernel, stride: s, padding: padding)
        let oh = pooledLength(h, kernel: kernel.h, stride: s.h, padding: padding.h, dilation: 1, ceilMode: ceilMode)
        let ow = pooledLength(w, kernel: kernel.w, stride: s.w, padding: padding.w, dilation: 1, ceilMode: ceilMode)
        guard oh > 0, ow > 0 else { throw BERGError.invalidInput("AvgPool2d: input \(h)×\(w) is too small for kernel \(kernel)") }
        let input = x.floats
        var out = [Float](repeating: 0, count: n * c * oh * ow)
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                Parallel.forEach(n * c) { plane, _ in
                    let sp = src + plane * h * w, dp = dst.p + plane * oh * ow
                    for i in 0..<oh {
                        var hs = i * s.h - padding.h
                        var he = min(hs + kernel.h, h + padding.h)
                        let padH = he - hs
                        hs = max(hs, 0); he = min(he, h)
                        for j in 0..<ow {
                            var ws = j * s.w - padding.w
                            var we = min(ws + kernel.w, w + padding.w)
                            let poolSize = padH * (we - ws)
                            ws = max(ws, 0); we = min(we, w)
                            var sum: Float = 0
                            if hs < he && ws < we {
                                for y in hs..<he { for xx in ws..<we { sum += sp[y * w + xx] } }
                            }
                            let divisor = countIncludePad ? poolSize : (he - hs) * (we - ws)
                            dp[i * ow + j] = divisor > 0 ? sum / Float(divisor) : 0
                        }
                    }
                }
            }
        }
        return try Tensor(shape: [n, c, oh, ow], floats: out)
    }

    /// PyTorch `adaptive_avg_pool2d`: window i spans [⌊i·H/out⌋, ⌈(i+1)·H/out⌉).
    public static func adaptiveAvgPool2d(_ x: Tensor, output: Size2) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("AdaptiveAvgPool2d")
        let oh = output.h, ow = output.w
        guard oh > 0, ow > 0 else { throw BERGError.invalidInput("AdaptiveAvgPool2d: output size \(output) must be positive") }
        let input = x.floats
        var out = [Float](repeating: 0, count: n * c * oh * ow)
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                Parallel.forEach(n * c) { plane, _ in
                    let sp = src + plane * h * w, dp = dst.p + plane * oh * ow
                    for i in 0..<oh {
                        let hs = (i * h) / oh, he = ((i + 1) * h + oh - 1) / oh
                        for j in 0..<ow {
                            let ws = (j * w) / ow, we = ((j + 1) * w + ow - 1) / ow
                            var sum: Float = 0
                            for y in hs..<he { for xx in ws..<we { sum += sp[y * w + xx] } }
                            dp[i * ow + j] = sum / Float((he - hs) * (we - ws))
                        }
                    }
                }
            }
        }
        return try Tensor(shape: [n, c, oh, ow], floats: out)
    }

    typealias PoolLanes = SIMD8<Float>

    /// The larger of a and b, lane by lane, NaN if either is.
    @inline(__always)
    static func nanMax(_ a: PoolLanes, _ b: PoolLanes) -> PoolLanes {
        a.replacing(with: b, where: (b .> a) .| (b .!= b))
    }

    /// m[x] = max(m[x], row[x]) for x in 0..<count.
    static func maxInPlace(_ m: UnsafeMutablePointer<Float>, _ row: UnsafePointer<Float>, count: Int) {
        var x = 0
        while x + PoolLanes.scalarCount <= count {
            let a = UnsafeRawPointer(m + x).loadUnaligned(as: PoolLanes.self)
            let b = UnsafeRawPointer(row + x).loadUnaligned(as: PoolLanes.self)
            UnsafeMutableRawPointer(m + x).storeBytes(of: nanMax(a, b), as: PoolLanes.self)
            x += PoolLanes.scalarCount
        }
        while x < count {
            let v = row[x]
            if v > m[x] || v.isNaN { m[x] = v }
            x += 1
        }
    }

    /// d[j] = max(r[2j], r[2j+1], r[2j+2]) for j in 0..<count, eight outputs at a time from the
    /// even and odd halves of sixteen inputs; r must be readable 18 floats past 2·count.
    static func maxOfThreeStrideTwo(_ r: UnsafePointer<Float>, count: Int, into d: UnsafeMutablePointer<Float>) {
        var j = 0
        while j < count {
            let a = UnsafeRawPointer(r + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(r + 2 * j + 2).loadUnaligned(as: SIMD16<Float>.self)
            let best = nanMax(nanMax(a.evenHalf, a.oddHalf), b.evenHalf)
            let n = min(PoolLanes.scalarCount, count - j)
            if n == PoolLanes.scalarCount {
                UnsafeMutableRawPointer(d + j).storeBytes(of: best, as: PoolLanes.self)
            } else {
                for k in 0..<n { d[j + k] = best[k] }
            }
            j += PoolLanes.scalarCount
        }
    }

    private static func checkPool(_ what: String, kernel: Size2, stride: Size2, padding: Size2) throws {
        guard kernel.h > 0, kernel.w > 0, stride.h > 0, stride.w > 0, padding.h >= 0, padding.w >= 0,
              padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w else {
            throw BERGError.invalidInput("\(what): kernel \(kernel) and stride \(stride) must be positive, padding \(padding) at most half the kernel")
        }
    }
}
