import Foundation

/// One axis of a chart: its label, its range (nil: fitted to the data), linear or logarithmic,
/// and its ticks (nil: round values chosen automatically).
public struct Axis: Sendable {
    public enum Scale: Sendable { case linear, logarithmic }

    public var label: String?
    public var range: ClosedRange<Double>?
    public var scale: Scale
    public var ticks: [Double]?
    /// Tick label text; nil: `Ticks.labels(for:)`.
    public var format: (@Sendable (Double) -> String)?

    public init(label: String? = nil, range: ClosedRange<Double>? = nil, scale: Scale = .linear,
                ticks: [Double]? = nil, format: (@Sendable (Double) -> String)? = nil) {
        self.label = label
        self.range = range
        self.scale = scale
        self.ticks = ticks
        self.format = format
    }

    /// The range to draw: the given one, or the data's extent widened to round ticks (linear)
    /// or whole decades' neighbours (logarithmic). Never empty.
    func resolvedRange(data: [Double], includeZero: Bool = false) -> ClosedRange<Double> {
        if let range, range.upperBound > range.lowerBound, scale == .linear || range.lowerBound > 0 { return range }
        var finite = data.filter { $0.isFinite && (scale == .linear || $0 > 0) }
        if includeZero && scale == .linear { finite.append(0) }
        guard var low = finite.min(), var high = finite.max() else { return scale == .linear ? 0...1 : 1...10 }
        if scale == .logarithmic {
            if low == high { (low, high) = (low / 2, high * 2) }
            return low...high
        }
        if low == high { (low, high) = (low - 0.5, high + 0.5) }
        let step = Ticks.niceStep((high - low) / 5)
        return (low / step).rounded(.down) * step...(high / step).rounded(.up) * step
    }

    func resolvedTicks(in range: ClosedRange<Double>) -> [Double] {
        if let ticks { return ticks.filter { range.contains($0) } }
        return scale == .linear ? Ticks.nice(in: range, count: 5) : Ticks.logarithmic(in: range)
    }

    func labels(for ticks: [Double]) -> [String] {
        if let format { return ticks.map(format) }
        return Ticks.labels(for: ticks)
    }
}

/// The plot area of a chart and its two axes: converts data to pixels and draws the frame,
/// ticks, tick labels and axis labels. `Axes(in:x:y:xData:yData:)` leaves room around the plot
/// area for the labels.
public struct Axes: Sendable {
    /// The plot area, inside the frame lines.
    public let frame: Rect
    public let x: Axis
    public let y: Axis
    public let xRange: ClosedRange<Double>
    public let yRange: ClosedRange<Double>
    public let xTicks: [Double]
    public let yTicks: [Double]
    let xTickLabels: [String]
    let yTickLabels: [String]
    /// Whether the x tick labels are turned to read bottom to top (long category names).
    let xLabelsVertical: Bool
    let font = BitmapFont.small
    let labelFont = BitmapFont.regular

    /// Axes filling `rect` with the margins their labels need. Ranges not given in `x`/`y` fit
    /// `xData`/`yData`; with `yFromZero` a linear y range includes 0 (bars, counts).
    /// `categories` puts named slots at x = 0, 1, 2, … instead of numeric x ticks (bar charts).
    public init(in rect: Rect, x: Axis, y: Axis, xData: [Double], yData: [Double], yFromZero: Bool = false,
                categories: [String]? = nil) {
        self.x = x
        self.y = y
        if let categories {
            xRange = -0.5...(Double(max(categories.count, 1)) - 0.5)
            xTicks = categories.indices.map(Double.init)
            xTickLabels = categories
        } else {
            xRange = x.resolvedRange(data: xData)
            xTicks = x.resolvedTicks(in: xRange)
            xTickLabels = x.labels(for: xTicks)
        }
        yRange = y.resolvedRange(data: yData, includeZero: yFromZero)
        yTicks = y.resolvedTicks(in: yRange)
        yTickLabels = y.labels(for: yTicks)
        let (font, labelFont) = (BitmapFont.small, BitmapFont.regular)
        let yLabelWidth = yTickLabels.map { font.width(of: $0) }.max() ?? 0
        let left = 12 + yLabelWidth + (y.label == nil ? 0 : labelFont.lineHeight + 4)
        let right = categories == nil ? (xTickLabels.last.map { font.width(of: $0) / 2 } ?? 0) + 4 : 4
        let width = max(rect.width - left - right, 1)
        let slot = Double(width) / Double(max(xTicks.count, 1))
        xLabelsVertical = categories != nil && xTickLabels.contains { Double(font.width(of: $0)) > slot - 4 }
        let xLabelHeight = xLabelsVertical ? (xTickLabels.map { font.width(of: $0) }.max() ?? 0) : font.lineHeight
        let bottom = 8 + xLabelHeight + (x.label == nil ? 0 : labelFont.lineHeight + 6)
        let top = font.lineHeight / 2 + 2
        frame = Rect(x: rect.x + left, y: rect.y + top, width: width, height: max(rect.height - top - bottom, 1))
    }

    /// The pixel position of data value `value` along x (continuous; the frame's left edge is `frame.minX`).
    public func pixelX(_ value: Double) -> Double {
        Double(frame.minX) + fraction(value, xRange, x.scale) * Double(frame.width)
    }

    /// The pixel position of data value `value` along y (up is larger).
    public func pixelY(_ value: Double) -> Double {
        Double(frame.maxY) - fraction(value, yRange, y.scale) * Double(frame.height)
    }

    public func point(_ xValue: Double, _ yValue: Double) -> Point { Point(pixelX(xValue), pixelY(yValue)) }

    private func fraction(_ value: Double, _ range: ClosedRange<Double>, _ scale: Axis.Scale) -> Double {
        switch scale {
        case .linear: return (value - range.lowerBound) / (range.upperBound - range.lowerBound)
        case .logarithmic: return log(value / range.lowerBound) / log(range.upperBound / range.lowerBound)
        }
    }

    /// Draws light grid lines at the y ticks, the frame, ticks, tick labels and axis labels.
    public func draw(on canvas: inout Canvas, yGrid: Bool = true) {
        let ink = Colour.ink
        if yGrid {
            for tick in yTicks {
                canvas.fill(Rect(x: frame.minX, y: Int(pixelY(tick).rounded(.down)), width: frame.width, height: 1), Colour(grey: 232))
            }
        }
        canvas.stroke(Rect(x: frame.minX - 1, y: frame.minY - 1, width: frame.width + 2, height: frame.height + 2), ink)
        var labelBottom = frame.maxY
        for (tick, label) in zip(xTicks, xTickLabels) {
            let px = pixelX(tick).rounded(.down)
            canvas.fill(Rect(x: Int(px), y: frame.maxY + 1, width: 1, height: 4), ink)
            let box = canvas.drawText(label, at: Point(px + 0.5, Double(frame.maxY + 7)), anchor: .top,
                                      font: font, vertical: xLabelsVertical)
            labelBottom = max(labelBottom, box.maxY)
        }
        for (tick, label) in zip(yTicks, yTickLabels) {
            let py = pixelY(tick).rounded(.down)
            canvas.fill(Rect(x: frame.minX - 5, y: Int(py), width: 4, height: 1), ink)
            canvas.drawText(label, at: Point(Double(frame.minX - 8), py + 0.5), anchor: .right, font: font)
        }
        if let label = x.label {
            canvas.drawText(label, at: Point(Double(frame.minX) + Double(frame.width) / 2, Double(labelBottom + 5)),
                            anchor: .top, font: labelFont)
        }
        if let label = y.label {
            let widest = yTickLabels.map { font.width(of: $0) }.max() ?? 0
            canvas.drawText(label, at: Point(Double(frame.minX - 12 - widest), Double(frame.minY) + Double(frame.height) / 2),
                            anchor: .right, font: labelFont, vertical: true)
        }
    }
}
