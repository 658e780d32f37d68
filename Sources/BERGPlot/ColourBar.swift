/// A colour bar: the colours of a `ColourScale` in a strip, with ticks, tick labels and a label.
///
/// ```swift
/// let bar = ColourBar(scale: ColourScale(map: .viridis, range: 0...8.4), label: "eccentricity (°)")
/// var legend = bar.render(length: 200)          // a vertical bar with its labels, on its own canvas
/// bar.draw(on: &canvas, strip: Rect(x: 300, y: 20, width: 12, height: 200))   // or into a picture
/// ```
/// Vertical bars run from low at the bottom to high at the top, with labels on the right;
/// horizontal bars from low at the left, with labels below.
public struct ColourBar: Sendable {
    public enum Orientation: Sendable { case vertical, horizontal }

    public var scale: ColourScale
    public var label: String?
    public var orientation: Orientation
    /// nil: round values chosen automatically.
    public var ticks: [Double]?
    /// Tick label text; nil: `Ticks.labels(for:)`.
    public var format: (@Sendable (Double) -> String)?
    /// The strip's thickness in `render(length:)`.
    public var thickness = 14

    public init(scale: ColourScale, label: String? = nil, orientation: Orientation = .vertical,
                ticks: [Double]? = nil, format: (@Sendable (Double) -> String)? = nil) {
        self.scale = scale
        self.label = label
        self.orientation = orientation
        self.ticks = ticks
        self.format = format
    }

    /// The tick values drawn: the given ones inside the range, or round ones.
    public var resolvedTicks: [Double] {
        let range = scale.range
        if let ticks { return ticks.filter { $0 >= range.lowerBound - 1e-9 && $0 <= range.upperBound + 1e-9 } }
        return Ticks.nice(in: range, count: orientation == .vertical ? 5 : 4)
    }

    var tickLabels: [String] {
        let ticks = resolvedTicks
        return format.map { ticks.map($0) } ?? Ticks.labels(for: ticks)
    }

    /// Where `value` lies along `strip`, in pixels: a y coordinate for a vertical bar (low at
    /// the bottom edge, high at the top edge), an x coordinate for a horizontal one.
    public func position(of value: Double, strip: Rect) -> Double {
        let t = min(max(scale.fraction(of: value), 0), 1)
        switch orientation {
        case .vertical: return Double(strip.maxY) - t * Double(strip.height)
        case .horizontal: return Double(strip.minX) + t * Double(strip.width)
        }
    }

    /// Draws the strip into `strip`, and the ticks, tick labels and label beside it (right of a
    /// vertical bar, below a horizontal one).
    public func draw(on canvas: inout Canvas, strip: Rect) {
        let font = BitmapFont.small
        switch orientation {
        case .vertical:
            for y in strip.minY..<strip.maxY {
                let t = (Double(strip.maxY) - (Double(y) + 0.5)) / Double(max(strip.height, 1))
                canvas.fill(Rect(x: strip.x, y: y, width: strip.width, height: 1), colour(at: t))
            }
        case .horizontal:
            for x in strip.minX..<strip.maxX {
                let t = (Double(x) + 0.5 - Double(strip.minX)) / Double(max(strip.width, 1))
                canvas.fill(Rect(x: x, y: strip.y, width: 1, height: strip.height), colour(at: t))
            }
        }
        canvas.stroke(Rect(x: strip.x - 1, y: strip.y - 1, width: strip.width + 2, height: strip.height + 2), .ink)
        var extent = 0
        for (tick, text) in zip(resolvedTicks, tickLabels) {
            let p = min(position(of: tick, strip: strip).rounded(.down), Double(orientation == .vertical ? strip.maxY - 1 : strip.maxX - 1))
            switch orientation {
            case .vertical:
                canvas.fill(Rect(x: strip.maxX + 1, y: Int(p), width: 4, height: 1), .ink)
                let box = canvas.drawText(text, at: Point(Double(strip.maxX + 8), p + 0.5), anchor: .left, font: font)
                extent = max(extent, box.maxX)
            case .horizontal:
                canvas.fill(Rect(x: Int(p), y: strip.maxY + 1, width: 1, height: 4), .ink)
                let box = canvas.drawText(text, at: Point(p + 0.5, Double(strip.maxY + 7)), anchor: .top, font: font)
                extent = max(extent, box.maxY)
            }
        }
        guard let label else { return }
        switch orientation {
        case .vertical:
            canvas.drawText(label, at: Point(Double(max(extent, strip.maxX + 8) + 6), strip.centre.y), anchor: .left,
                            font: .regular, vertical: true)
        case .horizontal:
            canvas.drawText(label, at: Point(strip.centre.x, Double(max(extent, strip.maxY + 7) + 4)), anchor: .top, font: .regular)
        }
    }

    /// The colour at fraction `t` of the strip (the scale's map; its range's ends at 0 and 1).
    private func colour(at t: Double) -> Colour {
        scale.colour(for: scale.range.lowerBound + t * (scale.range.upperBound - scale.range.lowerBound))
    }

    /// The room the bar needs across its length for the strip, ticks, labels and label.
    public var breadth: Int {
        let font = BitmapFont.small
        switch orientation {
        case .vertical:
            return thickness + 8 + (tickLabels.map { font.width(of: $0) }.max() ?? 0) + (label == nil ? 0 : 6 + BitmapFont.regular.lineHeight) + 2
        case .horizontal:
            return thickness + 7 + font.lineHeight + (label == nil ? 0 : 4 + BitmapFont.regular.lineHeight) + 2
        }
    }

    /// The bar alone on a white canvas: `length` pixels of strip plus margins for the labels.
    public func render(length: Int) -> Canvas {
        let margin = BitmapFont.small.lineHeight / 2 + 1
        switch orientation {
        case .vertical:
            var canvas = Canvas(width: breadth + 2, height: length + 2 * margin)
            draw(on: &canvas, strip: Rect(x: 1, y: margin, width: thickness, height: length))
            return canvas
        case .horizontal:
            let side = max(BitmapFont.small.width(of: tickLabels.first ?? ""), BitmapFont.small.width(of: tickLabels.last ?? "")) / 2 + 2
            var canvas = Canvas(width: length + 2 * side, height: breadth + 2)
            draw(on: &canvas, strip: Rect(x: side, y: 1, width: length, height: thickness))
            return canvas
        }
    }
}
