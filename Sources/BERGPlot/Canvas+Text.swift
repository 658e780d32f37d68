/// Which point of a text's box `drawText` puts at the given position.
/// `left`, `centre` and `right` centre the text vertically on its capital letters.
public enum TextAnchor: Sendable {
    case topLeft, top, topRight
    case left, centre, right
    case bottomLeft, bottom, bottomRight
}

extension Canvas {
    /// Draws `text` (one line, or several separated by "\n", aligned to the anchor's side) with
    /// `anchor`'s point of its box at `position`. `vertical` turns it a quarter turn counter-clockwise (reading bottom to top,
    /// as a y-axis label); the anchor then refers to the turned box.
    /// Returns the box the text covers.
    @discardableResult
    public mutating func drawText(_ text: String, at position: Point, anchor: TextAnchor = .topLeft,
                                  font: BitmapFont = .regular, colour: Colour = .ink, vertical: Bool = false) -> Rect {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var mask = TextMask(width: lines.map { font.width(of: $0) }.max() ?? 0, height: font.lineHeight * lines.count,
                            coverage: [])
        mask.width = max(mask.width, 1)
        mask.coverage = [UInt8](repeating: 0, count: mask.width * mask.height)
        for (index, line) in lines.enumerated() {
            let lineMask = font.mask(line)
            let offset: Int
            switch anchor {
            case .topLeft, .left, .bottomLeft: offset = 0
            case .top, .centre, .bottom: offset = (mask.width - lineMask.width) / 2
            case .topRight, .right, .bottomRight: offset = mask.width - lineMask.width
            }
            for y in 0..<lineMask.height {
                for x in 0..<lineMask.width {
                    mask.coverage[(index * font.lineHeight + y) * mask.width + offset + x] = lineMask.coverage[y * lineMask.width + x]
                }
            }
        }
        // The anchor's vertical "middle" is halfway up the capitals of a single line.
        let middle = lines.count == 1 ? Double(font.ascent) - Double(font.capHeight) / 2 : Double(mask.height) / 2
        if vertical { mask = mask.rotatedCounterClockwise() }
        let (w, h) = (Double(mask.width), Double(mask.height))
        let middleX = vertical ? middle : w / 2, middleY = vertical ? h / 2 : middle
        let dx: Double, dy: Double
        switch anchor {
        case .topLeft, .left, .bottomLeft: dx = 0
        case .top, .centre, .bottom: dx = vertical ? middleX : w / 2
        case .topRight, .right, .bottomRight: dx = w
        }
        switch anchor {
        case .topLeft, .top, .topRight: dy = 0
        case .left, .centre, .right: dy = middleY
        case .bottomLeft, .bottom, .bottomRight: dy = h
        }
        let left = Int((position.x - dx).rounded()), top = Int((position.y - dy).rounded())
        for y in 0..<mask.height {
            for x in 0..<mask.width {
                let value = mask.coverage[y * mask.width + x]
                if value > 0 { blend(x: left + x, y: top + y, colour, alpha: Double(value) / 255) }
            }
        }
        return Rect(x: left, y: top, width: mask.width, height: mask.height)
    }
}
