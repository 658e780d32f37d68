/// Anti-aliased lines, discs and circles. Coordinates are in pixels (see `Point`).
extension Canvas {
    /// A straight line `width` pixels wide with square-cut ends.
    public mutating func drawLine(from a: Point, to b: Point, _ colour: Colour, width: Double = 1) {
        let half = max(width, 0.5) / 2
        let dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy
        let x0 = Int((min(a.x, b.x) - half - 1).rounded(.down)), x1 = Int((max(a.x, b.x) + half + 1).rounded(.up))
        let y0 = Int((min(a.y, b.y) - half - 1).rounded(.down)), y1 = Int((max(a.y, b.y) + half + 1).rounded(.up))
        for y in max(y0, 0)..<max(min(y1, height), max(y0, 0)) {
            for x in max(x0, 0)..<max(min(x1, self.width), max(x0, 0)) {
                let px = Double(x) + 0.5 - a.x, py = Double(y) + 0.5 - a.y
                let t = length2 > 0 ? min(max((px * dx + py * dy) / length2, 0), 1) : 0
                let ex = px - t * dx, ey = py - t * dy
                let distance = (ex * ex + ey * ey).squareRoot()
                blend(x: x, y: y, colour, alpha: min(max(half - distance + 0.5, 0), 1))
            }
        }
    }

    /// A polyline through `points`.
    public mutating func drawPolyline(_ points: [Point], _ colour: Colour, width: Double = 1) {
        for (a, b) in zip(points, points.dropFirst()) { drawLine(from: a, to: b, colour, width: width) }
    }

    /// A filled disc.
    public mutating func fillDisc(centre: Point, radius: Double, _ colour: Colour, alpha: Double = 1) {
        paintRing(centre: centre, outer: radius, inner: nil, colour, alpha: alpha)
    }

    /// A circle's outline, `lineWidth` pixels wide, centred on `radius`.
    public mutating func strokeCircle(centre: Point, radius: Double, _ colour: Colour, lineWidth: Double = 1) {
        paintRing(centre: centre, outer: radius + lineWidth / 2, inner: max(radius - lineWidth / 2, 0), colour, alpha: 1)
    }

    /// Paints the pixels between two radii (a disc when `inner` is nil) with edge anti-aliasing.
    private mutating func paintRing(centre: Point, outer: Double, inner: Double?, _ colour: Colour, alpha: Double) {
        guard outer > 0, centre.x.isFinite, centre.y.isFinite else { return }
        let x0 = max(Int((centre.x - outer - 1).rounded(.down)), 0), x1 = min(Int((centre.x + outer + 1).rounded(.up)), width)
        let y0 = max(Int((centre.y - outer - 1).rounded(.down)), 0), y1 = min(Int((centre.y + outer + 1).rounded(.up)), height)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                let dx = Double(x) + 0.5 - centre.x, dy = Double(y) + 0.5 - centre.y
                let r = (dx * dx + dy * dy).squareRoot()
                var coverage = min(max(outer - r + 0.5, 0), 1)
                if let inner { coverage = min(coverage, min(max(r - inner + 0.5, 0), 1)) }
                blend(x: x, y: y, colour, alpha: coverage * alpha)
            }
        }
    }

    /// A plus-shaped mark, `size` pixels across, such as a fixation cross.
    public mutating func drawCross(centre: Point, size: Double, _ colour: Colour, lineWidth: Double = 2) {
        drawLine(from: Point(centre.x - size / 2, centre.y), to: Point(centre.x + size / 2, centre.y), colour, width: lineWidth)
        drawLine(from: Point(centre.x, centre.y - size / 2), to: Point(centre.x, centre.y + size / 2), colour, width: lineWidth)
    }
}
