/// One line of a `LineChart`.
public struct LineSeries: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// nil: the next of `Colour.series`.
    public var colour: Colour?
    /// Draws a dot at each point.
    public var showsPoints: Bool

    public init<X: Sequence, Y: Sequence>(name: String, x: X, y: Y, colour: Colour? = nil, showsPoints: Bool = true)
    where X.Element: BinaryFloatingPoint, Y.Element: BinaryFloatingPoint {
        self.name = name
        self.x = doubles(x)
        self.y = doubles(y)
        self.colour = colour
        self.showsPoints = showsPoints
    }
}

/// Lines through points, with a legend when there is more than one series (or the one is named).
///
/// ```swift
/// var chart = LineChart(series: [LineSeries(name: "fwRF", x: [1, 2, 4, 8], y: [10, 19, 35, 60])])
/// chart.x = Axis(label: "threads", scale: .logarithmic)
/// let picture = chart.render(width: 480, height: 320)
/// ```
public struct LineChart: Sendable {
    public var series: [LineSeries]
    public var title: String?
    public var x = Axis()
    public var y = Axis()
    public var markers: [Marker] = []

    public init(series: [LineSeries]) {
        self.series = series
    }

    public func render(width: Int = 480, height: Int = 320) -> Canvas {
        var (canvas, area) = ChartCanvas.make(width: width, height: height, title: title)
        let axes = Axes(in: area, x: x, y: y, xData: series.flatMap(\.x), yData: series.flatMap(\.y))
        axes.draw(on: &canvas)
        let colours = series.indices.map { series[$0].colour ?? Colour.series[$0 % Colour.series.count] }
        for (line, colour) in zip(series, colours) {
            let points = zip(line.x, line.y).filter { x, y in
                x.isFinite && y.isFinite && (self.x.scale == .linear || x > 0) && (self.y.scale == .linear || y > 0)
            }.map { axes.point($0, $1) }
            canvas.drawPolyline(points, colour, width: 2)
            if line.showsPoints { for point in points { canvas.fillDisc(centre: point, radius: 3, colour) } }
        }
        ChartCanvas.draw(markers, on: &canvas, axes: axes)
        let named = zip(series, colours).filter { !$0.0.name.isEmpty }
        if series.count > 1 || !named.isEmpty {
            Legend.draw(named.map { ($0.0.name, $0.1) }, on: &canvas, topLeft: Point(Double(axes.frame.minX + 8), Double(axes.frame.minY + 6)))
        }
        return canvas
    }
}
