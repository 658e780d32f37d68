/// A boxed list of coloured swatches and names.
public enum Legend {
    /// Draws the legend with its top left corner at `topLeft`; returns the box it covers.
    @discardableResult
    public static func draw(_ entries: [(name: String, colour: Colour)], on canvas: inout Canvas, topLeft: Point,
                            font: BitmapFont = .small) -> Rect {
        guard !entries.isEmpty else { return Rect(x: Int(topLeft.x), y: Int(topLeft.y), width: 0, height: 0) }
        let row = font.lineHeight + 2, swatch = 16
        let width = 6 + swatch + 6 + (entries.map { font.width(of: $0.name) }.max() ?? 0) + 6
        let box = Rect(x: Int(topLeft.x), y: Int(topLeft.y), width: width, height: row * entries.count + 6)
        canvas.fill(box, .white, alpha: 0.9)
        canvas.stroke(box, Colour(grey: 200))
        for (index, entry) in entries.enumerated() {
            let midY = Double(box.minY + 3 + index * row) + Double(row) / 2
            canvas.drawLine(from: Point(Double(box.minX + 6), midY), to: Point(Double(box.minX + 6 + swatch), midY), entry.colour, width: 2)
            canvas.drawText(entry.name, at: Point(Double(box.minX + 12 + swatch), midY), anchor: .left, font: font)
        }
        return box
    }
}
