/// A histogram of values with axes, ticks, labels and optional markers.
///
/// ```swift
/// var histogram = Histogram(scores, bins: 40)
/// histogram.title = "V1: accuracy per voxel"
/// histogram.x.label = "Pearson r"
/// histogram.markers = [Marker(value: histogram.median, label: "median 0.42")]
/// try histogram.render(width: 480, height: 320).writePNG(to: "accuracy.png")
/// ```
public struct Histogram: Sendable {
    /// The finite values counted.
    public let values: [Double]
    public var bins: Int
    public var title: String?
    /// `x.range` sets the binned range (default: the values' extent).
    public var x = Axis()
    public var y = Axis(label: "count")
    public var colour = Colour.blue
    public var markers: [Marker] = []

    public init<Values: Sequence>(_ values: Values, bins: Int = 30) where Values.Element: BinaryFloatingPoint {
        self.values = doubles(values).filter(\.isFinite)
        self.bins = bins
    }

    /// The median of the values (NaN when there are none).
    public var median: Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The bin edges (`bins + 1`) and the count in each bin; the last bin includes its right edge, as numpy's does.
    public var binned: (edges: [Double], counts: [Int]) {
        let bins = max(bins, 1)
        var low = x.range?.lowerBound ?? values.min() ?? 0, high = x.range?.upperBound ?? values.max() ?? 1
        if low == high { (low, high) = (low - 0.5, high + 0.5) }
        let width = (high - low) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for value in values where value >= low && value <= high {
            counts[min(Int((value - low) / width), bins - 1)] += 1
        }
        return ((0...bins).map { low + Double($0) * width }, counts)
    }

    public func render(width: Int = 480, height: Int = 320) -> Canvas {
        var (canvas, area) = ChartCanvas.make(width: width, height: height, title: title)
        let (edges, counts) = binned
        var xAxis = x
        xAxis.range = edges.first!...edges.last!
        let axes = Axes(in: area, x: xAxis, y: y, xData: edges, yData: counts.map(Double.init), yFromZero: true)
        axes.draw(on: &canvas)
        for (bin, count) in counts.enumerated() where count > 0 {
            let left = Int(axes.pixelX(edges[bin]).rounded()), right = Int(axes.pixelX(edges[bin + 1]).rounded())
            let top = Int(axes.pixelY(Double(count)).rounded())
            let bar = Rect(x: left, y: top, width: max(right - left, 1), height: axes.frame.maxY - top)
            canvas.fill(bar, colour)
            if bar.width > 3 { canvas.fill(Rect(x: bar.maxX - 1, y: bar.y, width: 1, height: bar.height), .white) }
        }
        ChartCanvas.draw(markers, on: &canvas, axes: axes)
        return canvas
    }
}
