import BERGCore

/// Image resampling on [N, C, H, W] images, matching the two references BERG's encoders were
/// trained with:
/// - torchvision `Resize` on a uint8 tensor (bilinear, antialias=True): the image is converted
///   to float32 and resized in float32 arithmetic as ATen does it (weights, horizontal pass,
///   vertical pass), then rounded half to even once. On random images and shapes about one
///   pixel in ten images still differs by one grey level (ATen's compiled sums round
///   differently there; fused multiply-adds explain half of those cases);
/// - Pillow `Image.resize` (BILINEAR, BICUBIC): 8-bit fixed point with 22 fractional bits,
///   rounded and clipped after each pass, horizontal pass first.
/// Both use the same antialiasing coefficients (the filter is widened by the downscale factor).
public enum ImageResize {
    public enum Filter: String, Sendable, CaseIterable {
        case bilinear, bicubic

        var support: Double { self == .bilinear ? 1 : 2 }

        func weight(_ x: Double) -> Double {
            let a = abs(x)
            switch self {
            case .bilinear:
                return a < 1 ? 1 - a : 0
            case .bicubic:  // Pillow's and torchvision's a = −0.5
                let c = -0.5
                if a < 1 { return ((c + 2) * a - (c + 3)) * a * a + 1 }
                if a < 2 { return (((a - 5) * a + 8) * a - 4) * c }
                return 0
            }
        }

        /// The same filters in float32, in the form ATen evaluates them.
        func atenWeight(_ x: Float) -> Float {
            let a = abs(x)
            switch self {
            case .bilinear:
                return a < 1 ? 1 - a : 0
            case .bicubic:
                let c: Float = -0.5
                if a < 1 { return ((c + 2) * a - (c + 3)) * a * a + 1 }
                if a < 2 { return ((c * a - 5 * c) * a + 8 * c) * a - 4 * c }
                return 0
            }
        }
    }

    /// Per output pixel: the first input pixel and normalised weights over a window.
    struct Coefficients {
        let first: [Int]
        let count: [Int]
        let window: Int
        let weights: [Double]  // [outSize, window]

        init(inSize: Int, outSize: Int, filter: Filter) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1)
            let support = filter.support * filterScale
            window = Int(support.rounded(.up)) * 2 + 1
            var first = [Int](repeating: 0, count: outSize), count = first
            var weights = [Double](repeating: 0, count: outSize * window)
            for i in 0..<outSize {
                let centre = (Double(i) + 0.5) * scale
                let lo = max(Int(centre - support + 0.5), 0)  // Int() truncates toward zero, as C's (int)
                let hi = min(Int(centre + support + 0.5), inSize)
                let n = max(min(hi - lo, window), 0)
                var total = 0.0
                for j in 0..<n {
                    let w = filter.weight((Double(j + lo) - centre + 0.5) / filterScale)
                    weights[i * window + j] = w
                    total += w
                }
                if total != 0 { for j in 0..<n { weights[i * window + j] /= total } }
                first[i] = lo; count[i] = n
            }
            self.first = first; self.count = count; self.weights = weights
        }
    }

    /// ATen's antialiased interpolation coefficients, in its float32 arithmetic (scale, centre,
    /// window and normalisation all in Float): with these and float32 sums in order, fused as
    /// ATen's are, one uint8 pixel in about 3 million differs from torchvision by one grey level
    /// (noise images, 24 random shapes); unfused sums left 8 in 3 million off, and Float64
    /// coefficients 0.05 %.
    struct Float32Coefficients {
        let first: [Int]
        let count: [Int]
        let window: Int
        let weights: [Float]  // [outSize, window]

        init(inSize: Int, outSize: Int, filter: Filter) {
            let scale = Float(inSize) / Float(outSize)
            let support = Float(filter.support) * (scale >= 1 ? scale : 1)
            let inverseScale: Float = scale >= 1 ? 1 / scale : 1
            window = Int(support.rounded(.up)) * 2 + 1
            var first = [Int](repeating: 0, count: outSize), count = first
            var weights = [Float](repeating: 0, count: outSize * window)
            for i in 0..<outSize {
                let centre = scale * (Float(i) + 0.5)
                let lo = max(Int(centre - support + 0.5), 0)  // Int() truncates toward zero, as C's cast
                let n = max(min(min(Int(centre + support + 0.5), inSize) - lo, window), 0)
                var total: Float = 0
                for j in 0..<n {
                    let w = filter.atenWeight((Float(j + lo) - centre + 0.5) * inverseScale)
                    weights[i * window + j] = w
                    total += w
                }
                if total != 0 { for j in 0..<n { weights[i * window + j] /= total } }
                first[i] = lo; count[i] = n
            }
            self.first = first; self.count = count; self.weights = weights
        }
    }

    /// torchvision `Resize((height, width))` with bilinear antialias. A uint8 tensor gives
    /// uint8 (rounded to nearest once, clamped); a float tensor gives float.
    public static func torchvisionBilinear(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        try torchvision(x, height: height, width: width, filter: .bilinear)
    }

    /// torchvision `Resize` with antialias on a tensor, bilinear or bicubic.
    public static func torchvision(_ x: Tensor, height: Int, width: Int, filter: Filter) throws -> Tensor {
        let (n, c, h, w) = try dims(x, height: height, width: width)
        let cx = Float32Coefficients(inSize: w, outSize: width, filter: filter)
        let cy = Float32Coefficients(inSize: h, outSize: height, filter: filter)
        let isBytes = x.dtype == .uint8
        let input: [Float] = x.floats
        let planes = n * c
        var result = [Float](repeating: 0, count: planes * height * width)
        input.withUnsafeBufferPointer { ip in
            result.withUnsafeMutableBufferPointer { op in
                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                Parallel.forEach(planes) { p, _ in
                    var mid = [Float](repeating: 0, count: h * width)  // horizontal pass, float32 as ATen keeps it
                    let sp = src + p * h * w
                    for y in 0..<h {
                        let row = sp + y * w
                        for i in 0..<width {
                            let lo = cx.first[i], base = i * cx.window
                            var s: Float = 0
                            // Fused multiply-adds, as ATen's kernels are compiled (GCC contracts
                            // t += x * w into an FMA).
                            for j in 0..<cx.count[i] { s.addProduct(row[lo + j], cx.weights[base + j]) }
                            mid[y * width + i] = s
                        }
                    }
                    let dp = dst.p + p * height * width
                    for i in 0..<height {
                        let lo = cy.first[i], base = i * cy.window
                        for xx in 0..<width {
                            var s: Float = 0
                            for j in 0..<cy.count[i] { s.addProduct(mid[(lo + j) * width + xx], cy.weights[base + j]) }
                            dp[i * width + xx] = s
                        }
                    }
                }
            }
        }
        let shape = [n, c, height, width]
        if isBytes {
            // torch.round (half to even), then the clamp torchvision applies before casting back.
            return try Tensor(shape: shape, bytes: result.map { UInt8(min(max($0.rounded(.toNearestOrEven), 0), 255)) })
        }
        return try Tensor(shape: shape, floats: result)
    }

    /// Pillow `Image.resize((width, height), filter)` on uint8 images, bit-exact: 22-bit fixed
    /// point weights, rounding and clipping to 8 bits after each pass. The horizontal pass runs
    /// first unless the height shrinks by more than twice as many pixels as the width (Pillow 13's
    /// rule in `ImagingResampleInner`); the order matters because of the 8-bit intermediate.
    public static func pil(_ x: Tensor, height: Int, width: Int, filter: Filter) throws -> Tensor {
        guard case .uint8(let input) = x.storage else {
            throw BERGError.invalidInput("Pillow-style resizing needs uint8 images, got \(x.dtype.rawValue)")
        }
        let (n, c, h, w) = try dims(x, height: height, width: width)
        let horizontal = FixedPointCoefficients(Coefficients(inSize: w, outSize: width, filter: filter))
        let vertical = FixedPointCoefficients(Coefficients(inSize: h, outSize: height, filter: filter))
        let verticalFirst = h - height > 0 && h - height > (w - width) * 2
        let planes = n * c
        var out = [UInt8](repeating: 0, count: planes * height * width)
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                let src = ip.baseAddress!, dst = SendablePointer(op.baseAddress!)
                Parallel.forEach(planes) { p, _ in
                    let sp = src + p * h * w, dp = dst.p + p * height * width
                    if verticalFirst {
                        var mid = [UInt8](repeating: 0, count: height * w)
                        mid.withUnsafeMutableBufferPointer { m in
                            vertical.resample(sp, rows: h, columns: w, along: .vertical, into: m.baseAddress!)
                            horizontal.resample(m.baseAddress!, rows: height, columns: w, along: .horizontal, into: dp)
                        }
                    } else {
                        var mid = [UInt8](repeating: 0, count: h * width)
                        mid.withUnsafeMutableBufferPointer { m in
                            horizontal.resample(sp, rows: h, columns: w, along: .horizontal, into: m.baseAddress!)
                            vertical.resample(m.baseAddress!, rows: h, columns: width, along: .vertical, into: dp)
                        }
                    }
                }
            }
        }
        return try Tensor(shape: [n, c, height, width], bytes: out)
    }

    /// Pillow's 8-bit coefficients: weights × 2²², rounded half away from zero.
    struct FixedPointCoefficients {
        enum Axis { case horizontal, vertical }
        let first: [Int], count: [Int], window: Int, weights: [Int]

        init(_ c: Coefficients) {
            let scale = Double(1 << 22)
            first = c.first; count = c.count; window = c.window
            weights = c.weights.map { $0 < 0 ? Int(-0.5 + $0 * scale) : Int(0.5 + $0 * scale) }
        }

        /// Resamples a rows × columns plane along one axis: (Σ w·x + 2²¹) >> 22, clipped to 0…255.
        func resample(_ src: UnsafePointer<UInt8>, rows: Int, columns: Int, along axis: Axis, into dst: UnsafeMutablePointer<UInt8>) {
            switch axis {
            case .horizontal:
                let outW = first.count
                for y in 0..<rows {
                    let row = src + y * columns
                    for i in 0..<outW {
                        var s = 1 << 21
                        let lo = first[i], base = i * window
                        for j in 0..<count[i] { s += Int(row[lo + j]) * weights[base + j] }
                        dst[y * outW + i] = ImageResize.clip8(s)
                    }
                }
            case .vertical:
                for i in 0..<first.count {
                    let lo = first[i], base = i * window
                    for xx in 0..<columns {
                        var s = 1 << 21
                        for j in 0..<count[i] { s += Int(src[(lo + j) * columns + xx]) * weights[base + j] }
                        dst[i * columns + xx] = ImageResize.clip8(s)
                    }
                }
            }
        }
    }

    /// The (height, width) torchvision `Resize(size)` gives: the shorter side becomes `size`,
    /// the longer one int(size · long / short).
    public static func shorterSideSize(height h: Int, width w: Int, size: Int) -> (height: Int, width: Int) {
        if w <= h { return (Int(Double(size) * Double(h) / Double(w)), size) }
        return (size, Int(Double(size) * Double(w) / Double(h)))
    }

    /// torchvision `Resize(shorterSide)` + `CenterCrop(crop)` on PIL images (Pillow's resize).
    public static func resizeShorterSideCenterCrop(_ x: Tensor, shorterSide: Int, crop: Int, filter: Filter = .bilinear) throws -> Tensor {
        let (_, _, h, w) = try x.nchw("ImageResize")
        let size = shorterSideSize(height: h, width: w, size: shorterSide)
        let resized = try pil(x, height: size.height, width: size.width, filter: filter)
        return try centerCrop(resized, height: crop, width: crop)
    }

    /// torchvision `CenterCrop`: the top-left corner is int(round((H − h) / 2.0)), Python's
    /// round (half to even). The crop must fit inside the image.
    public static func centerCrop(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("CenterCrop")
        guard height > 0, width > 0, height <= h, width <= w else {
            throw BERGError.invalidInput("Centre crop: crop \(height)×\(width) does not fit in image \(h)×\(w)")
        }
        let top = Int((Double(h - height) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(w - width) / 2).rounded(.toNearestOrEven))
        func crop<T>(_ v: [T]) -> [T] {
            var out = [T]()
            out.reserveCapacity(n * c * height * width)
            for p in 0..<(n * c) {
                for y in 0..<height {
                    let base = p * h * w + (top + y) * w + left
                    out.append(contentsOf: v[base..<(base + width)])
                }
            }
            return out
        }
        let shape = [n, c, height, width]
        switch x.storage {
        case .uint8(let v): return try Tensor(shape: shape, bytes: crop(v))
        default: return try Tensor(shape: shape, floats: crop(x.floats))
        }
    }

    /// uint8 images → float: x / 255 (ToTensor), then (x − mean[c]) / std[c] when given (Normalize).
    public static func toFloat(_ x: Tensor, mean: [Float]? = nil, std: [Float]? = nil) throws -> Tensor {
        let (n, c, h, w) = try x.nchw("ToTensor")
        let m = mean ?? [Float](repeating: 0, count: c), s = std ?? [Float](repeating: 1, count: c)
        guard m.count == c, s.count == c, s.allSatisfy({ $0 != 0 }) else {
            throw BERGError.invalidInput("Normalize: mean and std need \(c) values (std non-zero), got \(m.count) and \(s.count)")
        }
        let plane = h * w
        var out = [Float](repeating: 0, count: n * c * plane)
        // One plane per task; uint8 input is read as it is, without a float copy.
        func normalise<T>(_ v: [T], _ float: @escaping (T) -> Float) {
            v.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    let input = UncheckedSendable((src, float)), output = SendablePointer(dst.baseAddress!)
                    Parallel.forEach(n * c) { p, _ in
                        let (src, float) = input.value
                        let (mean, std) = (m[p % c], s[p % c])
                        for i in p * plane ..< (p + 1) * plane { output.p[i] = (float(src[i]) / 255 - mean) / std }
                    }
                }
            }
        }
        if case .uint8(let bytes) = x.storage { normalise(bytes) { Float($0) } } else { normalise(x.floats) { $0 } }
        return try Tensor(shape: x.shape, floats: out)
    }

    private static func dims(_ x: Tensor, height: Int, width: Int) throws -> (Int, Int, Int, Int) {
        let d = try x.nchw("ImageResize")
        guard height > 0, width > 0, d.h > 0, d.w > 0 else {
            throw BERGError.invalidInput("Resizing: sizes must be positive (input \(d.h)×\(d.w), output \(height)×\(width))")
        }
        return d
    }

    @inline(__always) static func clip8(_ s: Int) -> UInt8 {
        let v = s >> 22
        return UInt8(min(max(v, 0), 255))
    }
}
