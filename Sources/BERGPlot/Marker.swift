/// A labelled vertical line across a chart at an x value, such as a median.
public struct Marker: Sendable {
    public var value: Double
    public var label: String?
    public var colour: Colour

    public init(value: Double, label: String? = nil, colour: Colour = .red) {
        self.value = value
        self.label = label
        self.colour = colour
    }
}

/// What every chart shares: a white canvas, an optional bold title above the plot area.
enum ChartCanvas {
    /// The canvas and the rectangle left for the axes below the title.
    static func make(width: Int, height: Int, title: String?) -> (Canvas, Rect) {
        var canvas = Canvas(width: width, height: height)
        var top = 6
        if let title {
            let font = BitmapFont.bold
            canvas.drawText(font.truncated(title, toWidth: width - 8), at: Point(Double(width) / 2, 6), anchor: .top, font: font)
            top += font.lineHeight + 4
        }
        return (canvas, Rect(x: 6, y: top, width: width - 16, height: height - top - 6))
    }

    /// Draws markers as dashed vertical lines with their labels at the top of the plot area.
    static func draw(_ markers: [Marker], on canvas: inout Canvas, axes: Axes) {
        for marker in markers where marker.value.isFinite {
            let px = axes.pixelX(marker.value)
            guard px >= Double(axes.frame.minX) - 0.5, px <= Double(axes.frame.maxX) + 0.5 else { continue }
            var y = Double(axes.frame.minY)
            while y < Double(axes.frame.maxY) {   // dashes of 5 pixels, gaps of 3
                canvas.drawLine(from: Point(px, y), to: Point(px, min(y + 5, Double(axes.frame.maxY))), marker.colour, width: 1.5)
                y += 8
            }
            if let label = marker.label {
                // Beside the line, on whichever side has more room.
                let onRight = px < Double(axes.frame.minX) + Double(axes.frame.width) * 0.6
                let box = Rect(x: 0, y: 0, width: BitmapFont.small.width(of: label) + 6, height: BitmapFont.small.lineHeight + 2)
                let left = onRight ? Int(px) + 4 : Int(px) - 4 - box.width
                canvas.fill(Rect(x: left, y: axes.frame.minY + 3, width: box.width, height: box.height), .white, alpha: 0.85)
                canvas.drawText(label, at: Point(Double(left + 3), Double(axes.frame.minY + 4)), anchor: .topLeft,
                                font: .small, colour: marker.colour)
            }
        }
    }
}

/// Any floating-point values as Doubles.
func doubles<Values: Sequence>(_ values: Values) -> [Double] where Values.Element: BinaryFloatingPoint {
    var out: [Double] = []
    out.reserveCapacity(values.underestimatedCount)
    for value in values { out.append(Double(value)) }
    return out
}
