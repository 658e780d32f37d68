import BERGFormats
import BERGPlot
import Foundation
import XCTest

final class ChartTests: XCTestCase {
    func testNiceTicksAndLabels() {
        XCTAssertEqual(Ticks.nice(in: 0...8.4, count: 5), [0, 2, 4, 6, 8])
        XCTAssertEqual(Ticks.nice(in: -1...1, count: 4), [-1, -0.5, 0, 0.5, 1])
        XCTAssertEqual(Ticks.labels(for: [-1, -0.5, 0, 0.5, 1]), ["−1.0", "−0.5", "0.0", "0.5", "1.0"])
        XCTAssertEqual(Ticks.labels(for: [0, 100, 200]), ["0", "100", "200"])
        XCTAssertEqual(Ticks.logarithmic(in: 1...16), [1, 2, 5, 10])
        XCTAssertEqual(Ticks.logarithmic(in: 1...100_000), [1, 10, 100, 1000, 10000, 100_000])
        XCTAssertEqual(Ticks.labels(for: [0.5, 1, 2, 5]), ["0.5", "1.0", "2.0", "5.0"])
    }

    /// Where a tick mark and its label land beside a colour bar, and the strip's colour there.
    func testColourBarTicksLandOnTheirValues() {
        let bar = ColourBar(scale: ColourScale(map: .viridis, range: 0...8.4), label: "eccentricity (°)")
        var canvas = Canvas(width: 120, height: 220)
        let strip = Rect(x: 10, y: 20, width: 12, height: 168)
        bar.draw(on: &canvas, strip: strip)
        XCTAssertEqual(bar.resolvedTicks, [0, 2, 4, 6, 8])
        for value in [0.0, 2, 4, 6, 8] {
            let row = min(Int((Double(strip.maxY) - value / 8.4 * 168).rounded(.down)), strip.maxY - 1)
            XCTAssertEqual(bar.position(of: value, strip: strip), Double(strip.maxY) - value / 8.4 * 168, accuracy: 1e-9)
            // The tick mark: dark on its row just right of the strip, white two rows away.
            XCTAssertLessThan(canvas[strip.maxX + 2, row].red, 60, "tick \(value)")
            XCTAssertEqual(canvas[strip.maxX + 2, row - 2], .white, "tick \(value)")
            XCTAssertEqual(canvas[strip.maxX + 2, row + 2], .white, "tick \(value)")
            // Its label: ink within a few rows of the tick, right of it.
            let labelInk = (row - 6...row + 6).contains { y in (strip.maxX + 8..<strip.maxX + 30).contains { canvas[$0, y].red < 128 } }
            XCTAssertTrue(labelInk, "label \(value)")
            // The strip's colour there is the scale's colour for that value (within one table step).
            let expected = ColourMap.viridis.colour(at: value / 8.4)
            let actual = canvas[strip.minX + 5, row]
            XCTAssertLessThanOrEqual(abs(Int(actual.green) - Int(expected.green)) + abs(Int(actual.blue) - Int(expected.blue)), 8, "colour \(value)")
        }
        // Low at the bottom, high at the top (each row shows the colour at its centre).
        XCTAssertEqual(canvas[15, strip.maxY - 1], ColourMap.viridis.colour(at: 0.5 / 168))
        XCTAssertEqual(canvas[15, strip.minY], ColourMap.viridis.colour(at: 167.5 / 168))
    }

    func testHorizontalColourBarRunsLeftToRight() {
        let bar = ColourBar(scale: ColourScale(map: .inferno, range: -1...1), orientation: .horizontal)
        var canvas = Canvas(width: 240, height: 60)
        let strip = Rect(x: 20, y: 5, width: 200, height: 12)
        bar.draw(on: &canvas, strip: strip)
        XCTAssertEqual(canvas[strip.minX, 10], ColourMap.inferno.colour(at: 0.5 / 200))
        XCTAssertEqual(canvas[strip.maxX - 1, 10], ColourMap.inferno.colour(at: 199.5 / 200))
        let zero = Int(bar.position(of: 0, strip: strip).rounded(.down))
        XCTAssertEqual(zero, 120)
        XCTAssertLessThan(canvas[zero, strip.maxY + 2].red, 60)
        XCTAssertEqual(canvas[zero + 3, strip.maxY + 2], .white)
    }

    func testColourWheelShowsTheMapByAngle() {
        let wheel = ColourWheel(map: .hsv)
        var canvas = Canvas(width: 200, height: 200)
        wheel.draw(on: &canvas, centre: Point(100, 100), radius: 60)
        let r = 45.0   // inside the ring (30…60)
        for angle in [0.0, 90, 180, 270] {
            let x = Int(100 + r * cos(angle * .pi / 180)), y = Int(100 - r * sin(angle * .pi / 180))
            let expected = ColourMap.hsv.colour(at: angle / 360), actual = canvas[x, y]
            XCTAssertLessThanOrEqual(abs(Int(actual.red) - Int(expected.red)) + abs(Int(actual.green) - Int(expected.green))
                + abs(Int(actual.blue) - Int(expected.blue)), 40, "angle \(angle)")
        }
        XCTAssertEqual(canvas[100, 100], .white)   // the hole
    }

    func testHistogramBinsLikeNumpy() {
        // numpy.histogram([0, 1, 2, 3, 4], bins=4) -> counts [1, 1, 1, 2], edges [0, 1, 2, 3, 4]
        let histogram = Histogram([0.0, 1, 2, 3, 4], bins: 4)
        XCTAssertEqual(histogram.binned.counts, [1, 1, 1, 2])
        XCTAssertEqual(histogram.binned.edges, [0, 1, 2, 3, 4])
        XCTAssertEqual(histogram.median, 2)
        XCTAssertEqual(Histogram([Float(1), 3, .nan, 2, 10]).median, 2.5)
        XCTAssertTrue(Histogram([Double]()).median.isNaN)
    }

    func testHistogramBarsReachTheirCounts() {
        var histogram = Histogram([0.0, 1, 1, 1, 2, 3], bins: 3)
        histogram.colour = .green
        histogram.markers = [Marker(value: 1.5, colour: .red)]
        let canvas = histogram.render(width: 300, height: 200)
        // The middle of the first bin (0…1) has 1 value, the second (1…2) 3: the second bar is taller.
        func barHeight(atFraction fraction: Double) -> Int {
            let column = Int(fraction * Double(canvas.width))
            return (0..<canvas.height).filter { canvas[column, $0] == .green }.count
        }
        let first = barHeight(atFraction: 0.3), second = barHeight(atFraction: 0.47)
        XCTAssertGreaterThan(first, 0)
        XCTAssertEqual(Double(second) / Double(first), 3, accuracy: 0.1)
        XCTAssertTrue(canvas.pixels.indices.contains { $0 % 3 == 0 && canvas.pixels[$0] > 200 && canvas.pixels[$0 + 1] < 80 })  // the red marker
    }

    func testAxesMapDataToTheFrame() {
        let axes = Axes(in: Rect(x: 0, y: 0, width: 400, height: 300), x: Axis(range: 0...10), y: Axis(range: -1...1),
                        xData: [], yData: [])
        XCTAssertEqual(axes.pixelX(0), Double(axes.frame.minX))
        XCTAssertEqual(axes.pixelX(10), Double(axes.frame.maxX))
        XCTAssertEqual(axes.pixelY(-1), Double(axes.frame.maxY))
        XCTAssertEqual(axes.pixelY(1), Double(axes.frame.minY))
        let log = Axes(in: Rect(x: 0, y: 0, width: 400, height: 300), x: Axis(range: 1...100, scale: .logarithmic),
                       y: Axis(range: 0...1), xData: [], yData: [])
        XCTAssertEqual(log.pixelX(10), Double(log.frame.minX) + Double(log.frame.width) / 2, accuracy: 1e-9)
    }

    func testBarChartBarHeightsAreProportional() {
        var chart = BarChart(labels: ["V1", "V2"], values: [100.0, 200])
        chart.colour = .orange
        chart.showsValues = false
        chart.y.range = 0...200
        let canvas = chart.render(width: 300, height: 240)
        func height(_ column: Int) -> Int { (0..<canvas.height).filter { canvas[column, $0] == .orange }.count }
        let columns = (0..<canvas.width).filter { height($0) > 0 }
        let left = columns.filter { $0 < canvas.width / 2 }.map(height).max() ?? 0
        let right = columns.filter { $0 > canvas.width / 2 }.map(height).max() ?? 0
        XCTAssertGreaterThan(left, 20)
        XCTAssertEqual(Double(right) / Double(left), 2, accuracy: 0.05)
    }

    func testHeatMapCellsTakeTheirColours() {
        var heatMap = HeatMap([0, 1, 1, 0], rows: 2, columns: 2)
        heatMap.scale = ColourScale(map: .greys, range: 0...1)
        let canvas = heatMap.render(width: 300, height: 240)
        // Black cells on the diagonal: the canvas has both black and white regions of cell size.
        let black = canvas.pixels.indices.filter { $0 % 3 == 0 && canvas.pixels[$0] == 0 && canvas.pixels[$0 + 1] == 0 }.count
        XCTAssertGreaterThan(black, 2 * 50 * 50)
    }

    func testShapesAndOverlay() {
        var canvas = Canvas(width: 50, height: 50)
        canvas.fillDisc(centre: Point(25, 25), radius: 10, .red)
        XCTAssertEqual(canvas[25, 25], .red)
        XCTAssertEqual(canvas[25, 37], .white)
        canvas.drawLine(from: Point(0, 5.5), to: Point(50, 5.5), .blue, width: 1)
        XCTAssertEqual(canvas[20, 5], .blue)
        XCTAssertEqual(canvas[20, 7], .white)
        var image = Canvas(width: 4, height: 4, background: .black)
        image.overlay([Float](repeating: 1, count: 4), rows: 2, columns: 2, scale: ColourScale(map: .inferno, range: 0...1), opacity: 1)
        XCTAssertEqual(image[1, 1], ColourMap.inferno.colour(at: 1))
        XCTAssertThrowsError(try Canvas(rgb: [0, 0, 0], width: 2, height: 2))
    }

    func testGridPlacesPanelsInCells() {
        let a = Canvas(width: 30, height: 20, background: .red), b = Canvas(width: 10, height: 40, background: .blue)
        let grid = Canvas.grid([a, b, a], columns: 2, spacing: 5, margin: 3)
        XCTAssertEqual(grid.width, 3 + 30 + 5 + 10 + 3)
        XCTAssertEqual(grid.height, 3 + 40 + 5 + 20 + 3)
        XCTAssertEqual(grid[3, 3 + 10], .red)        // a, centred vertically in the 40-pixel row
        XCTAssertEqual(grid[3 + 30 + 5, 3], .blue)
        XCTAssertEqual(grid[3, 3 + 40 + 5], .red)
    }

    func testPNGRoundTrip() throws {
        var canvas = Canvas(width: 33, height: 17, background: Colour(10, 20, 30))
        canvas.drawText("PNG", at: Point(2, 2), font: .bold, colour: .orange)
        let path = NSTemporaryDirectory() + "berg-plot-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try canvas.writePNG(to: path)
        let decoded = try ImageCodec.decode(path)
        XCTAssertEqual(decoded.width, 33)
        XCTAssertEqual(decoded.height, 17)
        XCTAssertEqual(decoded.pixels, canvas.pixels)
        XCTAssertEqual(try Canvas(rgb: decoded.pixels, width: 33, height: 17).pixels, canvas.pixels)
    }
}
