/// exp and GELU on eight floats at a time. Scalar `expf` calls kept ViT's GELU and softmax at
/// a sixth of the network's time; these compile to vector instructions on any target.
enum VectorMath {
    typealias V = SIMD8<Float>

    /// e^x to within 2 ulp (Cephes' expf polynomial): x = n·ln 2 + r with |r| ≤ ½ ln 2, then
    /// 2ⁿ put straight into the exponent bits. Inputs are clamped to [-87.3, 88.3], where
    /// neither 2ⁿ nor the result leaves the normal range.
    @inline(__always)
    static func exp(_ x: V) -> V {
        var x = x
        x.replace(with: -87.3, where: x .< -87.3)
        x.replace(with: 88.3, where: x .> 88.3)
        // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer n, held in the low mantissa bits.
        let shifted: V = x * Float(1.44269504088896341) + Float(12_582_912)
        let n: V = shifted - Float(12_582_912)
        let r: V = x - n * Float(0.693359375) + n * Float(2.12194440e-4)
        var p: V = r * Float(1.9875691500e-4) + Float(1.3981999507e-3)
        p = p * r + Float(8.3334519073e-3)
        p = p * r + Float(4.1665795894e-2)
        p = p * r + Float(1.6666665459e-1)
        p = p * r + Float(5.0000001201e-1)
        p = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: V.self)
    }

    /// x · ½ · (1 + erf(x / √2)), PyTorch's exact GELU, with erf from Abramowitz & Stegun
    /// 7.1.26 (|error| ≤ 1.5e-7, about one float ulp of 1 + erf), as PyTorch's own vectorised
    /// erf does.
    @inline(__always)
    static func gelu(_ x: V) -> V {
        let z: V = magnitude(x) * Float(0.70710678118654752)
        let t: V = V(repeating: 1) / (z * Float(0.3275911) + 1)
        var poly: V = t * Float(1.061405429) - Float(1.453152027)
        poly = poly * t + Float(1.421413741)
        poly = poly * t - Float(0.284496736)
        poly = poly * t + Float(0.254829592)
        poly = poly * t
        let erfAbs: V = V(repeating: 1) - poly * VectorMath.exp(-(z * z))
        return Float(0.5) * x * (1 + withSign(of: x, erfAbs))
    }

    private static let signBit = SIMD8<UInt32>(repeating: 0x8000_0000)

    // Bit operations: the generic SIMD min/max/abs helpers are not inlined and cost more
    // than the arithmetic around them.
    @inline(__always)
    static func magnitude(_ x: V) -> V {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & ~signBit, to: V.self)
    }

    /// |y| with the sign of x (y ≥ 0).
    @inline(__always)
    static func withSign(of x: V, _ y: V) -> V {
        unsafeBitCast(unsafeBitCast(y, to: SIMD8<UInt32>.self) | (unsafeBitCast(x, to: SIMD8<UInt32>.self) & signBit), to: V.self)
    }

    /// Applies `f` to `count` floats in place, eight at a time; the tail goes through one
    /// zero-padded vector so every element sees the same arithmetic.
    @inline(__always)
    static func apply(_ p: UnsafeMutablePointer<Float>, count: Int, _ f: (V) -> V) {
        var i = 0
        while i + 8 <= count {
            let raw = UnsafeMutableRawPointer(p + i)
            raw.storeBytes(of: f(raw.loadUnaligned(as: V.self)), as: V.self)
            i += 8
        }
        if i < count {
            var tail = V()
            for k in 0..<(count - i) { tail[k] = p[i + k] }
            tail = f(tail)
            for k in 0..<(count - i) { p[i + k] = tail[k] }
        }
    }

    static func geluInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) { apply(p, count: count, gelu) }

    /// Softmax of `count` contiguous floats in place, max-subtracted.
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for k in 0..<count { m = max(m, p[k]) }
        let shift = V(repeating: m)
        apply(p, count: count) { exp($0 - shift) }
        var s: Float = 0
        for k in 0..<count { s += p[k] }
        let inv = 1 / s
        for k in 0..<count { p[k] *= inv }
    }

    /// Σ p[i], with eight partial sums.
    static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V()
        var i = 0
        while i + 8 <= count { acc += UnsafeRawPointer(p + i).loadUnaligned(as: V.self); i += 8 }
        var total = horizontalSum(acc)
        while i < count { total += p[i]; i += 1 }
        return total
    }

    /// Σ (p[i] − shift)², with eight partial sums.
    static func sumOfSquares(_ p: UnsafePointer<Float>, count: Int, minus shift: Float) -> Float {
        var acc = V()
        let s = V(repeating: shift)
        var i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: V.self) - s
            acc += d * d
            i += 8
        }
        var total = horizontalSum(acc)
        while i < count { let d = p[i] - shift; total += d * d; i += 1 }
        return total
    }

    @inline(__always)
    static func horizontalSum(_ v: V) -> Float {
        let half = v.lowHalf + v.highHalf
        return (half[0] + half[2]) + (half[1] + half[3])
    }
}
