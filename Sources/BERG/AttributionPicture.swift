import BERGCore
import BERGPlot
import Foundation

extension BERG {
    /// Draws attributions as `berg attribute --picture` does: per image, the map averaged over
    /// colour and smoothed with a Gaussian of σ = 2 px, as a heat overlay on the image, titled
    /// with the image's name; the images in a grid beside one colour bar.
    public static func writeAttributionPicture(_ report: AttributionReport, images: Tensor, to path: String) throws {
        try AttributionPicture.draw(report, images: images).writePNG(to: path)
    }
}

/// Attribution maps as BOLDreams shows them: averaged over colour, smoothed (σ = 2 px), over
/// the image in grey, on one diverging colour scale (red where a pixel raises the target, blue
/// where it lowers it) shared by all images, so that maps compare. The scale ends at the 99.5th
/// percentile of |map|, so that a few extreme pixels do not wash the rest out.
enum AttributionPicture {
    static let sigma = 2.0
    /// Panels are drawn at least this many pixels wide.
    static let panelSide = 240
    static let columns = 4
    /// The heat's opacity at the scale's ends; it fades with |value| so the image shows through.
    static let opacity = 0.85
    static let limitPercentile = 0.995

    /// Each image's map [H, W]: the mean over colour, smoothed as `scipy.ndimage.gaussian_filter`
    /// does (truncated at 4σ, edges reflected).
    static func heatMaps(_ attributions: Tensor) -> [[Float]] {
        let (n, c, h, w) = (attributions.shape[0], attributions.shape[1], attributions.shape[2], attributions.shape[3])
        let a = attributions.floats, plane = h * w
        return (0..<n).map { i in
            var mean = [Float](repeating: 0, count: plane)
            for ch in 0..<c { for p in 0..<plane { mean[p] += a[(i * c + ch) * plane + p] / Float(c) } }
            return smoothed(mean, height: h, width: w)
        }
    }

    /// A separable Gaussian of σ = 2 px, truncated at 4σ, with scipy's 'reflect' edges
    /// (d c b a | a b c d | d c b a).
    static func smoothed(_ plane: [Float], height h: Int, width w: Int) -> [Float] {
        let radius = Int(4 * sigma + 0.5)
        var kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        func reflect(_ i: Int, _ n: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i - 1 : 2 * n - i - 1 }
            return i
        }
        func pass(_ input: [Float], along horizontal: Bool) -> [Float] {
            var out = [Float](repeating: 0, count: input.count)
            for y in 0..<h {
                for x in 0..<w {
                    var s = 0.0
                    for (k, weight) in kernel.enumerated() {
                        let index = horizontal ? y * w + reflect(x + k - radius, w) : reflect(y + k - radius, h) * w + x
                        s += weight * Double(input[index])
                    }
                    out[y * w + x] = Float(s)
                }
            }
            return out
        }
        return pass(pass(plane, along: true), along: false)
    }

    static func draw(_ report: AttributionReport, images: Tensor) throws -> Canvas {
        let maps = heatMaps(report.attribution.attributions)
        let (n, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        let magnitudes = maps.flatMap { $0 }.map { abs(Double($0)) }.sorted()
        let limit = max(magnitudes.isEmpty ? 0 : magnitudes[Int(Double(magnitudes.count - 1) * limitPercentile)], 1e-30)
        let scale = ColourScale(map: .coolwarm, range: -limit...limit)
        let x = images.floats, plane = h * w
        let side = max(panelSide, w)
        var panels: [Canvas] = []
        for i in 0..<n {
            // The image in light grey (luminance, a third of the way to white) under the heat.
            var rgb = [UInt8](repeating: 0, count: plane * 3)
            for p in 0..<plane {
                let luminance = 0.299 * x[i * 3 * plane + p] + 0.587 * x[(i * 3 + 1) * plane + p] + 0.114 * x[(i * 3 + 2) * plane + p]
                let grey = UInt8(max(0, min(255, ((luminance * 2 + 1) / 3 * 255).rounded())))
                for c in 0..<3 { rgb[p * 3 + c] = grey }
            }
            var canvas = try Canvas(rgb: rgb, width: w, height: h)
            for y in 0..<h {
                for column in 0..<w {
                    let value = Double(maps[i][y * w + column])
                    canvas.blend(x: column, y: y, scale.colour(for: value), alpha: opacity * min(1, abs(value) / limit))
                }
            }
            let sum = report.attribution.sums[i]
            let delta = Double(report.attribution.values[i]) - Double(report.attribution.baselineValues[i])
            panels.append(canvas.resized(toFit: side, side)
                .titled(report.stimulusNames.indices.contains(i) ? report.stimulusNames[i] : "image-\(i)")
                .captioned(String(format: "sum %.3g, f(x) - f(baseline) %.3g", sum, delta)))
        }
        let grid = Canvas.grid(panels, columns: min(columns, n))
        let bar = ColourBar(scale: scale, label: "attribution").render(length: min(side, grid.height - 40))
        var figure = Canvas(width: grid.width + bar.width + 16, height: max(grid.height, bar.height + 32))
        figure.draw(grid, x: 0, y: 0)
        figure.draw(bar, x: grid.width, y: (figure.height - bar.height) / 2)
        return figure
    }
}
