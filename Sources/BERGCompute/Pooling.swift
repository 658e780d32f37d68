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
        // Window taps inside the input, as index lists per output row and column, so that the
        // inner loops carry no bounds checks.
        let rowTaps = (0..<oh).map { i in (0..<kernel.h).map { i * s.h - padding.h + $0 * dilation.h }.filter { $0 >= 0 && $0 < h } }
        let colTaps = (0..<ow).map { j in (0..<kernel.w).map { j * s.w - padding.w + $0 * dilation.w }.filter { $0 >= 0 && $0 < w } }
        let maxTaps = max(kernel.h, kernel.w)
        // Flattened: taps[i * maxTaps + t], with counts, for rows then columns.
        var rowIndex = [Int](repeating: 0, count: oh * maxTaps), rowCount = [Int](repeating: 0, count: oh)
        for (i, taps) in rowTaps.enumerated() { rowCount[i] = taps.count; for (t, y) in taps.enumerated() { rowIndex[i * maxTaps + t] = y * w } }
        var colIndex = [Int](repeating: 0, count: ow * maxTaps), colCount = [Int](repeating: 0, count: ow)
        for (j, taps) in colTaps.enumerated() { colCount[j] = taps.count; for (t, xx) in taps.enumerated() { colIndex[j * maxTaps + t] = xx } }
        let input = x.floats
        var out = [Float](repeating: 0, count: n * c * oh * ow)
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                rowIndex.withUnsafeBufferPointer { ri in
                    colIndex.withUnsafeBufferPointer { ci in
                        rowCount.withUnsafeBufferPointer { rc in
                            colCount.withUnsafeBufferPointer { cc in
                                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                                let ri = ri.baseAddress!, ci = ci.baseAddress!, rc = rc.baseAddress!, cc = cc.baseAddress!
                                // Separable: the max down each window's rows into one input-wide
                                // row (contiguous, vectorisable), then across each window's columns.
                                // NaN propagates, as in PyTorch, and does so in either order.
                                Parallel.forEach(n * c) { plane, _ in
                                    let sp = src + plane * h * w, dp = dst.p + plane * oh * ow
                                    withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { rowMax in
                                        let m = rowMax.baseAddress!
                                        for i in 0..<oh {
                                            let rows = ri + i * maxTaps, nr = rc[i]
                                            if nr == 0 {
                                                m.update(repeating: -Float.infinity, count: w)
                                            } else {
                                                m.update(from: sp + rows[0], count: w)
                                            }
                                            for a in 1..<max(nr, 1) {
                                                let row = sp + rows[a]
                                                for x in 0..<w {
                                                    let v = row[x]
                                                    m[x] = (v > m[x] || v.isNaN) ? v : m[x]
                                                }
                                            }
                                            for j in 0..<ow {
                                                let cols = ci + j * maxTaps, nc = cc[j]
                                                var best = -Float.infinity
                                                for b in 0..<nc {
                                                    let v = m[cols[b]]
                                                    if v > best || v.isNaN { best = v }
                                                }
                                                dp[i * ow + j] = best
                                            }
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

    private static func checkPool(_ what: String, kernel: Size2, stride: Size2, padding: Size2) throws {
        guard kernel.h > 0, kernel.w > 0, stride.h > 0, stride.w > 0, padding.h >= 0, padding.w >= 0,
              padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w else {
            throw BERGError.invalidInput("\(what): kernel \(kernel) and stride \(stride) must be positive, padding \(padding) at most half the kernel")
        }
    }
}
