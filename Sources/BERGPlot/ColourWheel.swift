import Foundation

/// A ring of a cyclic colour map with angle labels, the legend of a polar-angle map.
/// Angles are in degrees, counter-clockwise from the right (the visual field's right horizontal meridian).
///
/// ```swift
/// let wheel = ColourWheel(map: .hsv).render(diameter: 90)
/// ```
public struct ColourWheel: Sendable {
    public var map: ColourMap
    /// Labels placed outside the ring at these angles (degrees).
    public var labels: [(angle: Double, text: String)]
    /// The hole in the middle as a fraction of the radius (0: a full disc).
    public var innerFraction: Double

    public init(map: ColourMap, labels: [(angle: Double, text: String)] = [(0, "0°"), (90, "90°"), (180, "180°"), (270, "270°")],
                innerFraction: Double = 0.5) {
        self.map = map
        self.labels = labels
        self.innerFraction = innerFraction
    }

    /// The colour the wheel shows at `angle` degrees: the map at angle / 360.
    public func colour(atAngle angle: Double) -> Colour { map.colour(at: angle / 360) }

    /// Draws the ring and its labels around `centre`.
    public func draw(on canvas: inout Canvas, centre: Point, radius: Double) {
        let inner = radius * innerFraction
        let x0 = Int(centre.x - radius - 1), x1 = Int(centre.x + radius + 2)
        let y0 = Int(centre.y - radius - 1), y1 = Int(centre.y + radius + 2)
        for y in y0..<y1 {
            for x in x0..<x1 {
                let dx = Double(x) + 0.5 - centre.x, dy = centre.y - (Double(y) + 0.5)
                let r = (dx * dx + dy * dy).squareRoot()
                let coverage = min(max(radius - r + 0.5, 0), 1) * min(max(r - inner + 0.5, 0), 1)
                guard coverage > 0 else { continue }
                var angle = atan2(dy, dx) * 180 / .pi
                if angle < 0 { angle += 360 }
                canvas.blend(x: x, y: y, colour(atAngle: angle), alpha: coverage)
            }
        }
        for (angle, text) in labels {
            let radians = angle * .pi / 180, c = cos(radians), s = sin(radians)
            let at = Point(centre.x + (radius + 4) * c, centre.y - (radius + 4) * s)
            // The label's box touches the ring on the side facing the centre.
            let anchor: TextAnchor
            switch (c > 0.38 ? 1 : c < -0.38 ? -1 : 0, s > 0.38 ? 1 : s < -0.38 ? -1 : 0) {
            case (1, 1): anchor = .bottomLeft
            case (1, -1): anchor = .topLeft
            case (1, _): anchor = .left
            case (-1, 1): anchor = .bottomRight
            case (-1, -1): anchor = .topRight
            case (-1, _): anchor = .right
            case (_, 1): anchor = .bottom
            default: anchor = .top
            }
            canvas.drawText(text, at: at, anchor: anchor, font: .small)
        }
    }

    /// The wheel alone on a white canvas, with room for its labels.
    public func render(diameter: Int) -> Canvas {
        let font = BitmapFont.small
        let side = (labels.map { font.width(of: $0.text) }.max() ?? 0) + 6, band = font.lineHeight + 5
        var canvas = Canvas(width: diameter + 2 * side, height: diameter + 2 * band)
        draw(on: &canvas, centre: Point(Double(side) + Double(diameter) / 2, Double(band) + Double(diameter) / 2),
             radius: Double(diameter) / 2)
        return canvas
    }
}
