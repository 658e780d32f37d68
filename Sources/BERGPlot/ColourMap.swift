/// A colour map: 256 colours from low (0) to high (1), sampled from matplotlib
/// (`Tools/plot/make_colour_maps.py` writes the tables in `ColourMap+Tables.swift`).
///
/// ```swift
/// ColourMap.viridis.colour(at: 0)      // #440154, viridis' dark end
/// ColourMap.twilight.colour(at: 1.25)  // cyclic maps wrap: the same as at 0.25
/// ```
public struct ColourMap: Sendable {
    public let name: String
    /// Whether the map's two ends meet (for angles); `colour(at:)` then wraps instead of clamping.
    public let isCyclic: Bool
    /// The 256 colours, low to high.
    public let colours: [Colour]

    public init(name: String, isCyclic: Bool, colours: [Colour]) {
        precondition(!colours.isEmpty, "a colour map needs colours")
        self.name = name
        self.isCyclic = isCyclic
        self.colours = colours
    }

    /// A map from a table of RRGGBB hex digits (whitespace ignored), as the generated tables are.
    init(name: String, isCyclic: Bool, hexTable: String) {
        let digits = Array(hexTable.utf8.filter { !($0 == 32 || $0 == 10) })
        func value(_ c: UInt8) -> UInt32 { UInt32(c >= 97 ? c - 87 : c - 48) }
        let colours = stride(from: 0, to: digits.count - 5, by: 6).map { i in
            Colour(hex: (0..<6).reduce(0) { $0 << 4 | value(digits[i + $1]) })
        }
        self.init(name: name, isCyclic: isCyclic, colours: colours)
    }

    /// The colour at `t`: 0 is the low end, 1 the high end. Outside 0…1 a cyclic map wraps
    /// and any other map clamps; NaN gives the low end.
    public func colour(at t: Double) -> Colour {
        let n = colours.count
        guard t.isFinite else { return colours[0] }
        if isCyclic {
            // The table's first and last entries are the same point of the circle.
            let wrapped = t - t.rounded(.down)
            return colours[Int((wrapped * Double(n - 1)).rounded()) % max(n - 1, 1)]
        }
        return colours[min(max(Int((t * Double(n - 1)).rounded()), 0), n - 1)]
    }

    /// The same colours, high to low.
    public var reversed: ColourMap {
        ColourMap(name: name + "_r", isCyclic: isCyclic, colours: colours.reversed())
    }

    /// Black to white.
    public static let greys = ColourMap(name: "gray", isCyclic: false,
                                        colours: (0...255).map { Colour(grey: UInt8($0)) })
}

/// A colour map applied to a range of values: `range.lowerBound` gets the map's low end,
/// `range.upperBound` its high end. Values that are not finite get `missing`.
public struct ColourScale: Sendable {
    public var map: ColourMap
    public var range: ClosedRange<Double>
    public var missing: Colour

    public init(map: ColourMap, range: ClosedRange<Double>, missing: Colour = .lightGrey) {
        self.map = map
        self.range = range
        self.missing = missing
    }

    /// A scale over the finite values' minimum…maximum (0…1 when there are none, a unit
    /// range around the value when all are equal).
    public init<Values: Sequence>(map: ColourMap, fitting values: Values, symmetric: Bool = false)
    where Values.Element: BinaryFloatingPoint {
        var low = Double.infinity, high = -Double.infinity
        for value in values where value.isFinite {
            low = min(low, Double(value))
            high = max(high, Double(value))
        }
        if low > high { (low, high) = (0, 1) }
        if symmetric { (low, high) = (-max(abs(low), abs(high)), max(abs(low), abs(high))) }
        if low == high { (low, high) = (low - 0.5, high + 0.5) }
        self.init(map: map, range: low...high)
    }

    /// Where `value` falls in the range, 0…1 (unclamped).
    public func fraction(of value: Double) -> Double {
        let span = range.upperBound - range.lowerBound
        return span > 0 ? (value - range.lowerBound) / span : 0.5
    }

    public func colour(for value: Double) -> Colour {
        value.isFinite ? map.colour(at: fraction(of: value)) : missing
    }
}
