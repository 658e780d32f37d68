/// Bars with category names, such as voxel counts per ROI.
///
/// ```swift
/// var chart = BarChart(labels: ["V1", "V2", "V3"], values: [288, 288, 231])
/// chart.y.label = "voxels"
/// let picture = chart.render(width: 480, height: 320)
/// ```
public struct BarChart: Sendable {
    public var labels: [String]
    public var values: [Double]
    public var title: String?
    /// Only `x.label` is used: the categories are the x ticks.
    public var x = Axis()
    public var y = Axis()
    public var colour = Colour.blue
    /// Writes each bar's value above it.
    public var showsValues = true
    public var valueFormat: @Sendable (Double) -> String = { Ticks.labels(for: [$0])[0] }

    public init<Values: Sequence>(labels: [String], values: Values) where Values.Element: BinaryFloatingPoint {
        self.labels = labels
        self.values = doubles(values)
    }

    public func render(width: Int = 480, height: Int = 320) -> Canvas {
        var (canvas, area) = ChartCanvas.make(width: width, height: height, title: title)
        let count = min(labels.count, values.count)
        var yAxis = y
        // Head room for the value labels above the tallest bar.
        if showsValues, yAxis.range == nil, let top = values.prefix(count).filter(\.isFinite).max(), top > 0 {
            yAxis.range = 0...(top * 1.12)
        }
        let axes = Axes(in: area, x: x, y: yAxis, xData: [], yData: Array(values.prefix(count)), yFromZero: true,
                        categories: Array(labels.prefix(count)))
        axes.draw(on: &canvas)
        let slot = Double(axes.frame.width) / Double(max(count, 1))
        for index in 0..<count where values[index].isFinite {
            let centre = axes.pixelX(Double(index))
            let left = Int((centre - slot * 0.35).rounded()), right = Int((centre + slot * 0.35).rounded())
            let top = Int(axes.pixelY(max(values[index], axes.yRange.lowerBound)).rounded())
            let base = Int(axes.pixelY(max(axes.yRange.lowerBound, 0)).rounded())
            canvas.fill(Rect(x: left, y: min(top, base), width: max(right - left, 1), height: abs(base - top)), colour)
            if showsValues {
                canvas.drawText(valueFormat(values[index]), at: Point(centre, Double(min(top, base) - 2)),
                                anchor: .bottom, font: .small)
            }
        }
        return canvas
    }
}
