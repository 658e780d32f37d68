/// A matrix drawn as coloured cells with a colour bar, such as an RDM.
///
/// ```swift
/// var heatMap = HeatMap(rdm, rows: 50, columns: 50)
/// heatMap.title = "V1"
/// heatMap.colourBarLabel = "1 − Pearson r"
/// let panel = heatMap.render(width: 320, height: 280)
/// ```
public struct HeatMap: Sendable {
    /// Row-major values, `rows` × `columns`.
    public let values: [Float]
    public let rows: Int
    public let columns: Int
    public var title: String?
    /// The colours; nil: viridis over the finite values' extent.
    public var scale: ColourScale?
    public var colourBarLabel: String?
    /// Shown beside the rows and below the columns when given and the cells are large enough.
    public var rowLabels: [String]?
    public var columnLabels: [String]?

    /// The values must number `rows` × `columns`; missing ones draw as the scale's missing colour.
    public init(_ values: [Float], rows: Int, columns: Int) {
        self.values = values
        self.rows = max(rows, 0)
        self.columns = max(columns, 0)
    }

    /// The colour scale used: `scale`, or viridis fitted to the values.
    public var resolvedScale: ColourScale { scale ?? ColourScale(map: .viridis, fitting: values) }

    /// The matrix (square cells, as large as fit), its colour bar on the right, the title above.
    public func render(width: Int = 320, height: Int = 280) -> Canvas {
        var (canvas, area) = ChartCanvas.make(width: width, height: height, title: title)
        let bar = ColourBar(scale: resolvedScale, label: colourBarLabel)
        let font = BitmapFont.small
        let rowLabelWidth = (rowLabels?.map { font.width(of: $0) }.max()).map { $0 + 4 } ?? 0
        let columnLabelHeight = columnLabels == nil ? 0 : (columnLabels!.map { font.width(of: $0) }.max() ?? 0) + 4
        let available = (width: area.width - bar.breadth - 12 - rowLabelWidth,
                         height: area.height - columnLabelHeight - font.lineHeight)
        guard rows > 0, columns > 0, available.width > 0, available.height > 0 else { return canvas }
        let cell = min(Double(available.width) / Double(columns), Double(available.height) / Double(rows))
        let matrix = Rect(x: area.x + rowLabelWidth, y: area.y + font.lineHeight / 2,
                          width: Int(cell * Double(columns)), height: Int(cell * Double(rows)))
        let scale = resolvedScale
        for row in 0..<rows {
            let top = matrix.y + Int((Double(row) * cell).rounded()), bottom = matrix.y + Int((Double(row + 1) * cell).rounded())
            for column in 0..<columns {
                let left = matrix.x + Int((Double(column) * cell).rounded()), right = matrix.x + Int((Double(column + 1) * cell).rounded())
                let index = row * columns + column
                let colour = index < values.count ? scale.colour(for: Double(values[index])) : scale.missing
                canvas.fill(Rect(x: left, y: top, width: right - left, height: bottom - top), colour)
            }
        }
        canvas.stroke(Rect(x: matrix.x - 1, y: matrix.y - 1, width: matrix.width + 2, height: matrix.height + 2), .ink)
        // Labels only when the cells are tall enough to tell them apart.
        if let rowLabels, cell >= Double(font.lineHeight) {
            for (row, label) in rowLabels.prefix(rows).enumerated() {
                canvas.drawText(label, at: Point(Double(matrix.x - 4), Double(matrix.y) + (Double(row) + 0.5) * cell),
                                anchor: .right, font: font)
            }
        }
        if let columnLabels, cell >= Double(font.lineHeight) {
            for (column, label) in columnLabels.prefix(columns).enumerated() {
                canvas.drawText(label, at: Point(Double(matrix.x) + (Double(column) + 0.5) * cell, Double(matrix.maxY + 4)),
                                anchor: .top, font: font, vertical: true)
            }
        }
        bar.draw(on: &canvas, strip: Rect(x: matrix.maxX + 12, y: matrix.y, width: bar.thickness, height: matrix.height))
        return canvas
    }
}
