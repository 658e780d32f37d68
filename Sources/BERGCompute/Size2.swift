import BERGCore

/// A (height, width) pair for kernels, strides, padding and dilation. An integer literal
/// means the same value for both.
public struct Size2: Sendable, Equatable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(integerLiteral value: Int) { self.init(value, value) }
    public static func square(_ v: Int) -> Size2 { Size2(v, v) }
    public var description: String { "(\(h), \(w))" }
}

extension Tensor {
    /// Checks that this is a rank-4 NCHW tensor and returns its dimensions.
    func nchw(_ what: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
        guard rank == 4 else { throw BERGError.shapeMismatch(what: "\(what) input (N, C, H, W)", expected: [-1, -1, -1, -1], actual: shape) }
        return (shape[0], shape[1], shape[2], shape[3])
    }
}
