/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64: a small, fast generator
/// whose whole sequence follows from one 64-bit seed, on every platform and Swift version
/// (unlike the standard library's `random(in:using:)`, whose algorithm may change).
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// The generator for `seed`; `stream` picks an independent sequence for the same seed
    /// (such as one per permutation, so that work split across threads stays reproducible).
    public init(seed: UInt64, stream: UInt64 = 0) {
        func finalise(_ x: UInt64) -> UInt64 {
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Each stream starts SplitMix64 at its own scrambled point.
        var mix = stream == 0 ? seed : seed ^ finalise(stream &+ 0x632B_E59B_D9B4_E019)
        func splitMix() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            return finalise(mix)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// A uniform integer in 0..<bound (Lemire's multiply-and-reject, no modulo bias).
    public mutating func uniform(below bound: Int) -> Int {
        precondition(bound > 0)
        let range = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: range)
            if product.low >= (0 &- range) % range { return Int(product.high) }
        }
    }

    /// A uniformly random ordering of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, uniform(below: i + 1)) }
        return order
    }
}
