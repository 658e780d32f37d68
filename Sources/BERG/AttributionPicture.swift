import BERGCore
import BERGFormats
import Foundation

extension BERG {
    /// Draws attributions as `berg attribute --picture` does: per image, the map averaged over
    /// colour and smoothed with a Gaussian of σ = 2 px, as a heat overlay on the image.
    public static func writeAttributionPicture(_ report: AttributionReport, images: Tensor, to path: String) throws {
        try AttributionPicture.write(report, images: images, to: path)
    }
}

/// Attribution maps as BOLDreams shows them: averaged over colour, smoothed (σ = 2 px).
enum AttributionPicture {
    static let sigma = 2.0

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

    static func smoothed(_ plane: [Float], height h: Int, width w: Int) -> [Float] {
        let radius = Int(4 * sigma + 0.5)
        var kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        // scipy's 'reflect': d c b a | a b c d | d c b a
        func reflect(_ i: Int, _ n: Int) -> Int {
            var i = i
            while i < 0 || i >= n { i = i < 0 ? -i - 1 : 2 * n - i - 1 }
            return i
        }
        var rows = [Float](repeating: 0, count: plane.count)
        for y in 0..<h {
            for x in 0..<w {
                var s = 0.0
                for (k, weight) in kernel.enumerated() { s += weight * Double(plane[y * w + reflect(x + k - radius, w)]) }
                rows[y * w + x] = Float(s)
            }
        }
        var out = [Float](repeating: 0, count: plane.count)
        for y in 0..<h {
            for x in 0..<w {
                var s = 0.0
                for (k, weight) in kernel.enumerated() { s += weight * Double(rows[reflect(y + k - radius, h) * w + x]) }
                out[y * w + x] = Float(s)
            }
        }
        return out
    }

    static func write(_ report: AttributionReport, images: Tensor, to path: String) throws {
        let maps = heatMaps(report.attribution.attributions)
        let (n, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        let x = images.floats, plane = h * w
        var rgb = [UInt8](repeating: 255, count: n * plane * 3)
        let width = n * w
        for i in 0..<n {
            let limit = max(maps[i].map(abs).max() ?? 0, .leastNormalMagnitude)
            for p in 0..<plane {
                let grey = (0..<3).reduce(Float(0)) { $0 + x[(i * 3 + $1) * plane + p] } / 3
                let t = maps[i][p] / limit
                let heat: (Float, Float, Float) = t >= 0 ? (1, 1 - t, 1 - t) : (1 + t, 1 + t, 1)
                let alpha = min(1, abs(t) * 1.5)
                let colour = [heat.0, heat.1, heat.2].map { grey * (1 - alpha) + $0 * alpha }
                for c in 0..<3 { rgb[((p / w) * width + i * w + p % w) * 3 + c] = UInt8(max(0, min(255, (colour[c] * 255).rounded()))) }
            }
        }
        try ImageCodec.writePNG(rgb: rgb, width: width, height: h, to: path)
    }
}
