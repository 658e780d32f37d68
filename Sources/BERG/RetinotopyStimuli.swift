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

    /// 8 rings, 8 wedges, 8 vertical bars sweeping left to right (`bar-x`) and 8 horizontal
    /// bars sweeping bottom to top (`bar-y`), each `size` × `size` pixels.
    public static func make(size: Int, fieldRadius: Double = 8.4) -> [Image] {
        let steps = 8
        var images: [Image] = []
        // Rings: log-spaced bands from the centre out; each overlaps the next by half.
        func edge(_ t: Double) -> Double { t <= 0 ? 0 : 0.3 * pow(fieldRadius / 0.3, t / 9.5) }
        for k in 0..<steps {
            let inner = edge(Double(k)), outer = min(edge(Double(k) + 1.5), fieldRadius)
            images.append(Image(name: "ring-\(k)", rgb: draw(size, fieldRadius) { x, y in
                let e = (x * x + y * y).squareRoot()
                return e >= inner && e < outer
            }))
        }
        // Wedges: 90° wide, centred at k · 45°, counter-clockwise from the right horizontal meridian.
        for k in 0..<steps {
            let centre = Double(k) * 2 * .pi / Double(steps)
            images.append(Image(name: "wedge-\(k)", rgb: draw(size, fieldRadius) { x, y in
                var d = atan2(y, x) - centre
                d = atan2(sin(d), cos(d))
                return abs(d) <= .pi / 4
            }))
        }
        // Bars: an eighth of the field's width, stepping across it.
        let width = 2 * fieldRadius / Double(steps)
        for (axis, horizontal) in [("x", true), ("y", false)] {
            for k in 0..<steps {
                let lower = -fieldRadius + Double(k) * width
                images.append(Image(name: "bar-\(axis)-\(k)", rgb: draw(size, fieldRadius) { x, y in
                    let p = horizontal ? x : y
                    return p >= lower && p < lower + width
                }))
            }
        }
        return images.sorted { $0.name < $1.name }
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
