/// Putting pictures together: titles, captions, margins and grids of panels.
extension Canvas {
    /// This canvas with `amount` pixels of `background` added on every side.
    public func padded(_ amount: Int, background: Colour = .white) -> Canvas {
        padded(top: amount, left: amount, bottom: amount, right: amount, background: background)
    }

    public func padded(top: Int = 0, left: Int = 0, bottom: Int = 0, right: Int = 0, background: Colour = .white) -> Canvas {
        var out = Canvas(width: width + left + right, height: height + top + bottom, background: background)
        out.draw(self, x: left, y: top)
        return out
    }

    /// This canvas with `title` centred in a band above it; the canvas widens (centred) if the title is wider.
    public func titled(_ title: String, font: BitmapFont = .bold, background: Colour = .white) -> Canvas {
        let band = font.lineHeight + 8
        let extra = max(font.width(of: title) + 4 - width, 0)
        var out = padded(top: band, left: extra / 2, right: extra - extra / 2, background: background)
        out.drawText(title, at: Point(Double(out.width) / 2, Double(band) / 2), anchor: .centre, font: font)
        return out
    }

    /// This canvas with `caption` centred in a band below it (shortened with "…" if wider).
    public func captioned(_ caption: String, font: BitmapFont = .small, background: Colour = .white) -> Canvas {
        let band = font.lineHeight + 6
        var out = padded(bottom: band, background: background)
        out.drawText(font.truncated(caption, toWidth: width), at: Point(Double(width) / 2, Double(height) + Double(band) / 2),
                     anchor: .centre, font: font)
        return out
    }

    /// Panels laid out in rows of `columns`, each centred in its cell; a column is as wide as its
    /// widest panel and a row as tall as its tallest. `spacing` separates cells, `margin` surrounds all.
    public static func grid(_ panels: [Canvas], columns: Int, spacing: Int = 16, margin: Int = 16,
                            background: Colour = .white) -> Canvas {
        let columns = max(1, min(columns, panels.count))
        let rows = (panels.count + columns - 1) / columns
        var widths = [Int](repeating: 0, count: columns), heights = [Int](repeating: 0, count: rows)
        for (i, panel) in panels.enumerated() {
            widths[i % columns] = max(widths[i % columns], panel.width)
            heights[i / columns] = max(heights[i / columns], panel.height)
        }
        let totalWidth = widths.reduce(0, +) + spacing * max(columns - 1, 0) + 2 * margin
        let totalHeight = heights.reduce(0, +) + spacing * max(rows - 1, 0) + 2 * margin
        var out = Canvas(width: totalWidth, height: totalHeight, background: background)
        for (i, panel) in panels.enumerated() {
            let column = i % columns, row = i / columns
            let left = margin + widths[..<column].reduce(0, +) + spacing * column
            let top = margin + heights[..<row].reduce(0, +) + spacing * row
            out.draw(panel, x: left + (widths[column] - panel.width) / 2, y: top + (heights[row] - panel.height) / 2)
        }
        return out
    }
}
