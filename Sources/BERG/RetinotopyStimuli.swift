import Foundation

/// The classic retinotopic mapping stimuli: expanding rings, rotating wedges and sweeping bars,
/// each a black-and-white polar checkerboard seen through an aperture on mean grey.
///
/// The square image spans the field of view, `fieldRadius` degrees from the centre to each
/// edge; outside the circular field the image is grey. Names sort by family
/// (`bar-x-0` … `bar-y-7`, `ring-0` … `ring-7`, `wedge-0` … `wedge-7`).
public enum RetinotopyStimuli {
    public struct Image: Sendable {
        public var name: String
        /// RGB, [height, width, 3].
        public var rgb: [UInt8]
    }

    public static let grey: UInt8 = 128
    /// Images per family.
    public static let steps = 8

    /// 8 rings, 8 wedges, 8 vertical bars sweeping left to right (`bar-x`) and 8 horizontal
    /// bars sweeping bottom to top (`bar-y`), each `size` × `size` pixels.
    public static func make(size: Int, fieldRadius: Double = 8.4) -> [Image] {
        var images: [Image] = []
        for k in 0..<steps {
            let band = ringBand(k, fieldRadius: fieldRadius)
            images.append(Image(name: "ring-\(k)", rgb: draw(size, fieldRadius) { x, y in
                band.contains((x * x + y * y).squareRoot())
            }))
        }
        for k in 0..<steps {
            let centre = wedgeCentre(k) * .pi / 180
            images.append(Image(name: "wedge-\(k)", rgb: draw(size, fieldRadius) { x, y in
                var d = atan2(y, x) - centre
                d = atan2(sin(d), cos(d))
                return abs(d) <= .pi / 4
            }))
        }
        for (axis, horizontal) in [("x", true), ("y", false)] {
            for k in 0..<steps {
                let band = barBand(k, fieldRadius: fieldRadius)
                images.append(Image(name: "bar-\(axis)-\(k)", rgb: draw(size, fieldRadius) { x, y in
                    band.contains(horizontal ? x : y)
                }))
            }
        }
        return images.sorted { $0.name < $1.name }
    }

    /// Ring k's eccentricities (degrees): log-spaced bands from the centre outwards, each
    /// overlapping the next by half; ring 0 covers the centre and the last ring runs past the
    /// edge of the field (the field's edge clips it), as an expanding ring leaves the screen.
    public static func ringBand(_ k: Int, fieldRadius: Double = 8.4) -> ClosedRange<Double> {
        (k <= 0 ? 0 : ringEdge(Double(k), fieldRadius))...ringEdge(Double(k) + 1.5, fieldRadius)
    }

    /// Ring k's typical eccentricity (degrees): the geometric middle of its band; the last
    /// ring's is the edge of the field.
    public static func ringCentre(_ k: Int, fieldRadius: Double = 8.4) -> Double {
        ringEdge(Double(k) + 0.75, fieldRadius)
    }

    /// Edges at `t` steps on a log scale from 0.3° (t = 0) such that the last ring's middle
    /// (t = steps − 0.25) is the edge of the field.
    private static func ringEdge(_ t: Double, _ fieldRadius: Double) -> Double {
        0.3 * pow(fieldRadius / 0.3, t / (Double(steps) - 0.25))
    }

    /// Wedge k's centre angle, degrees counter-clockwise from the right horizontal meridian;
    /// each wedge is 90° wide.
    public static func wedgeCentre(_ k: Int) -> Double { Double(k) * 360 / Double(steps) }

    /// Bar k's extent (degrees) along its sweep: x for `bar-x`, y for `bar-y`; bars are an
    /// eighth of the field's width and tile it.
    public static func barBand(_ k: Int, fieldRadius: Double = 8.4) -> Range<Double> {
        let width = 2 * fieldRadius / Double(steps), lower = -fieldRadius + Double(k) * width
        return lower..<lower + width
    }

    /// A checkerboard where `inside(x, y)` (degrees, y up) holds within the circular field, grey elsewhere.
    static func draw(_ size: Int, _ fieldRadius: Double, inside: (Double, Double) -> Bool) -> [UInt8] {
        var rgb = [UInt8](repeating: grey, count: size * size * 3)
        for row in 0..<size {
            for column in 0..<size {
                let x = ((Double(column) + 0.5) / Double(size) * 2 - 1) * fieldRadius
                let y = (1 - (Double(row) + 0.5) / Double(size) * 2) * fieldRadius
                let e = (x * x + y * y).squareRoot()
                guard e <= fieldRadius, inside(x, y) else { continue }
                // Polar checks: 16 around, log-spaced in eccentricity.
                let angleCheck = Int(floor((atan2(y, x) + .pi) / (2 * .pi) * 16))
                let eccentricityCheck = Int(floor(log(max(e, 0.05) / 0.05) / 0.35))
                let value: UInt8 = (angleCheck + eccentricityCheck) % 2 == 0 ? 255 : 0
                let i = (row * size + column) * 3
                rgb[i] = value; rgb[i + 1] = value; rgb[i + 2] = value
            }
        }
        return rgb
    }
}
