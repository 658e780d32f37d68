import BERGCore
import BERGFormats

/// An RGB picture to draw on: `width` × `height` pixels, 3 bytes each, row-major from the top left.
///
/// ```swift
/// var canvas = Canvas(width: 200, height: 80)
/// canvas.drawText("V1", at: Point(100, 40), anchor: .centre, font: .bold)
/// try canvas.writePNG(to: "v1.png")
/// ```
/// Drawing outside the canvas is clipped, never an error.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    /// RGB bytes, `(y * width + x) * 3`.
    public internal(set) var pixels: [UInt8]

    /// A canvas filled with `background`.
    public init(width: Int, height: Int, background: Colour = .white) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        pixels = [UInt8](repeating: 0, count: self.width * self.height * 3)
        if background != .black { fill(Rect(x: 0, y: 0, width: self.width, height: self.height), background) }
    }

    /// A canvas holding an RGB image ([height, width, 3] bytes, as `ImageCodec.decode` gives).
    public init(rgb: [UInt8], width: Int, height: Int) throws {
        guard width > 0, height > 0, rgb.count == width * height * 3 else {
            throw BERGError.shapeMismatch(what: "RGB image for a canvas [H,W,3]", expected: [height, width, 3], actual: [rgb.count])
        }
        self.width = width
        self.height = height
        pixels = rgb
    }

    /// The whole canvas as a rectangle.
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    /// The pixel at column `x`, row `y` (which must be on the canvas).
    public subscript(x: Int, y: Int) -> Colour {
        get {
            let i = (y * width + x) * 3
            return Colour(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set { if contains(x, y) { set(x, y, newValue) } }
    }

    func contains(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < width && y < height }

    mutating func set(_ x: Int, _ y: Int, _ colour: Colour) {
        let i = (y * width + x) * 3
        pixels[i] = colour.red
        pixels[i + 1] = colour.green
        pixels[i + 2] = colour.blue
    }

    /// Mixes `colour` into pixel (x, y) with opacity `alpha` (0…1); off-canvas pixels are skipped.
    public mutating func blend(x: Int, y: Int, _ colour: Colour, alpha: Double) {
        guard contains(x, y), alpha > 0 else { return }
        if alpha >= 1 { set(x, y, colour); return }
        let i = (y * width + x) * 3
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) + (Double(new) - Double(old)) * alpha).rounded()) }
        pixels[i] = mix(pixels[i], colour.red)
        pixels[i + 1] = mix(pixels[i + 1], colour.green)
        pixels[i + 2] = mix(pixels[i + 2], colour.blue)
    }

    /// Fills a rectangle (clipped to the canvas).
    public mutating func fill(_ rect: Rect, _ colour: Colour, alpha: Double = 1) {
        let x0 = max(rect.minX, 0), x1 = min(rect.maxX, width)
        let y0 = max(rect.minY, 0), y1 = min(rect.maxY, height)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                if alpha >= 1 { set(x, y, colour) } else { blend(x: x, y: y, colour, alpha: alpha) }
            }
        }
    }

    /// Draws a rectangle's outline, `lineWidth` pixels wide, inside the rectangle.
    public mutating func stroke(_ rect: Rect, _ colour: Colour, lineWidth: Int = 1) {
        let w = max(1, min(lineWidth, rect.width, rect.height))
        fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: w), colour)
        fill(Rect(x: rect.x, y: rect.maxY - w, width: rect.width, height: w), colour)
        fill(Rect(x: rect.x, y: rect.y, width: w, height: rect.height), colour)
        fill(Rect(x: rect.maxX - w, y: rect.y, width: w, height: rect.height), colour)
    }

    /// Copies `other` onto this canvas with its top left corner at (x, y).
    public mutating func draw(_ other: Canvas, x: Int, y: Int) {
        let x0 = max(x, 0), x1 = min(x + other.width, width)
        guard x0 < x1 else { return }
        for row in max(y, 0)..<max(min(y + other.height, height), max(y, 0)) {
            let source = ((row - y) * other.width + (x0 - x)) * 3, target = (row * width + x0) * 3
            pixels.replaceSubrange(target..<target + (x1 - x0) * 3, with: other.pixels[source..<source + (x1 - x0) * 3])
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG (through a temporary file in the same folder).
    public func writePNG(to path: String) throws {
        try ImageCodec.writePNG(rgb: pixels, width: width, height: height, to: path)
    }
}
