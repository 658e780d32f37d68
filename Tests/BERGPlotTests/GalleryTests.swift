import BERGFormats
import BERGPlot
import Foundation
import XCTest

/// Draws one picture of each kind and checks that each PNG reads back as the canvas it came from.
/// With BERG_PLOT_GALLERY=DIR the pictures are kept in DIR, to be looked at.
final class GalleryTests: XCTestCase {
    func testEveryKindOfPictureRoundTripsThroughPNG() throws {
        let keep = ProcessInfo.processInfo.environment["BERG_PLOT_GALLERY"]
        let folder = keep ?? NSTemporaryDirectory() + "berg-plot-gallery-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }

        var pictures: [(String, Canvas)] = []
        // Histogram with a median marker.
        var generator = SeededGenerator(seed: 7)
        let scores = (0..<2000).map { _ in Double.random(in: -0.2...0.4, using: &generator) + Double.random(in: 0...0.4, using: &generator) }
        var histogram = Histogram(scores, bins: 40)
        histogram.title = "V1: accuracy per voxel"
        histogram.x.label = "Pearson r"
        histogram.y.label = "voxels"
        histogram.markers = [Marker(value: histogram.median, label: String(format: "median %.2f", histogram.median))]
        pictures.append(("histogram", histogram.render()))
        // Bar chart with long names.
        var bars = BarChart(labels: ["V1", "V2", "V3", "hV4", "VO1", "LO1", "TO1", "IPS0-long"], values: [288, 288, 231, 120, 64, 99, 33, 410])
        bars.title = "voxels per ROI"
        bars.y.label = "voxels"
        pictures.append(("bars", bars.render()))
        // Line chart on log axes.
        var lines = LineChart(series: [
            LineSeries(name: "Swift", x: [1, 2, 4, 8, 16], y: [10, 19, 35, 60, 90]),
            LineSeries(name: "PyTorch", x: [1, 2, 4, 8, 16], y: [8, 15, 30, 52, 70]),
        ])
        lines.title = "throughput"
        lines.x = Axis(label: "threads", scale: .logarithmic)
        lines.y = Axis(label: "images / s")
        pictures.append(("lines", lines.render()))
        // Heat maps in a grid.
        let n = 20
        let matrix = (0..<n * n).map { i in Float(abs(i / n - i % n)) / Float(n) }
        var heat = HeatMap(matrix, rows: n, columns: n)
        heat.title = "V1"
        heat.colourBarLabel = "1 − r"
        var diverging = HeatMap(matrix.map { $0 - 0.4 }, rows: n, columns: n)
        diverging.title = "difference"
        diverging.scale = ColourScale(map: .coolwarm, fitting: diverging.values, symmetric: true)
        var small = HeatMap([0.1, 0.5, 0.9, 0.3], rows: 2, columns: 2)
        small.title = "labelled"
        small.rowLabels = ["cat", "dog"]
        small.columnLabels = ["cat", "dog"]
        pictures.append(("heatmaps", Canvas.grid([heat.render(), diverging.render(), small.render()], columns: 3)))
        // Overlay on an image, captioned, in a grid.
        var image = Canvas(width: 96, height: 96, background: Colour(grey: 200))
        image.fillDisc(centre: Point(48, 48), radius: 30, Colour(90, 120, 60))
        var overlaid = image
        let heatValues = (0..<64).map { (i: Int) -> Float in
            let (dy, dx) = (Double(i / 8 - 3), Double(i % 8 - 4))
            return Float(exp(-(dx * dx + dy * dy) / 4))
        }
        overlaid.overlay(heatValues, rows: 8, columns: 8, scale: ColourScale(map: .inferno, range: 0...1), opacity: 0.7, fadeLow: true)
        let attribution = Canvas.grid([image.resized(width: 160, height: 160).captioned("cat_0001.jpg"),
                                       overlaid.resized(width: 160, height: 160).captioned("a_very_long_file_name_indeed.png"),
                                       ColourBar(scale: ColourScale(map: .inferno, range: 0...1), label: "attribution").render(length: 160)],
                                      columns: 3)
        pictures.append(("overlay", attribution))
        // Legends: wheel and bars of every map.
        var legends: [Canvas] = [ColourWheel(map: .hsv).render(diameter: 90).titled("hsv"),
                                 ColourWheel(map: .twilight).render(diameter: 90).titled("twilight")]
        for map in [ColourMap.viridis, .inferno, .coolwarm, .twilight, .hsv, .greys] {
            legends.append(ColourBar(scale: ColourScale(map: map, range: 0...8.4), label: "eccentricity (°)").render(length: 120).titled(map.name))
        }
        legends.append(ColourBar(scale: ColourScale(map: .viridis, range: -1...1), label: "r", orientation: .horizontal).render(length: 200))
        pictures.append(("legends", Canvas.grid(legends, columns: 4)))
        // Text at every size and anchor.
        var text = Canvas(width: 420, height: 200)
        text.drawText("DejaVu Sans 11px: 0.123 −4° σ ±", at: Point(8, 8), font: .small)
        text.drawText("DejaVu Sans 13px: Eccentricity (°)", at: Point(8, 30), font: .regular)
        text.drawText("Bold 15px: Polar angle from wedges", at: Point(8, 54), font: .bold)
        text.drawCross(centre: Point(210, 140), size: 10, .red, lineWidth: 1)
        for (anchor, name) in [(TextAnchor.topLeft, "topLeft"), (.bottomRight, "bottomRight"), (.centre, "centre")] {
            text.drawText(name, at: Point(210, 140), anchor: anchor, font: .small)
        }
        text.drawText("vertical", at: Point(30, 190), anchor: .bottomLeft, vertical: true)
        text.drawText("two\nlines", at: Point(380, 140), anchor: .centre)
        pictures.append(("text", text))

        for (name, canvas) in pictures {
            let path = folder + "/\(name).png"
            try canvas.writePNG(to: path)
            let decoded = try ImageCodec.decode(path)
            XCTAssertEqual(decoded.width, canvas.width, name)
            XCTAssertEqual(decoded.height, canvas.height, name)
            XCTAssertEqual(decoded.pixels, canvas.pixels, name)
        }
    }
}

/// A small deterministic generator (SplitMix64) so that test pictures do not change between runs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
