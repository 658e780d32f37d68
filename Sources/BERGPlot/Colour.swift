/// An 8-bit sRGB colour.
public struct Colour: Hashable, Sendable {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// A colour from 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xFF), UInt8((hex >> 8) & 0xFF), UInt8(hex & 0xFF))
    }

    /// A grey of the given level.
    public init(grey level: UInt8) {
        self.init(level, level, level)
    }

    /// This colour moved `amount` (0…1) of the way towards `other`.
    public func mixed(with other: Colour, amount: Double) -> Colour {
        let t = min(max(amount, 0), 1)
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - t) + Double(b) * t).rounded()) }
        return Colour(mix(red, other.red), mix(green, other.green), mix(blue, other.blue))
    }

    public static let black = Colour(0, 0, 0)
    public static let white = Colour(255, 255, 255)
    /// Text and axis lines: a near-black that prints softer than pure black.
    public static let ink = Colour(34, 34, 34)
    public static let grey = Colour(128, 128, 128)
    public static let lightGrey = Colour(211, 211, 211)
    /// matplotlib's first four cycle colours (tab10), for bars, lines and markers.
    public static let blue = Colour(hex: 0x1F77B4)
    public static let orange = Colour(hex: 0xFF7F0E)
    public static let green = Colour(hex: 0x2CA02C)
    public static let red = Colour(hex: 0xD62728)

    /// Distinct colours for the series of a chart, in order (matplotlib's tab10).
    public static let series: [Colour] = [0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
                                          0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF].map { Colour(hex: $0) }
}
