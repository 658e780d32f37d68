/// Pictures on pictures: scaling an image into a box, and colouring values over an image.
extension Canvas {
    /// This canvas scaled to `width` × `height` with bilinear interpolation (pixel centres aligned).
    public func resized(width newWidth: Int, height newHeight: Int) -> Canvas {
        var out = Canvas(width: newWidth, height: newHeight)
        guard width > 0, height > 0 else { return out }
        for y in 0..<out.height {
            let sy = min(max((Double(y) + 0.5) * Double(height) / Double(newHeight) - 0.5, 0), Double(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = sy - Double(y0)
            for x in 0..<out.width {
                let sx = min(max((Double(x) + 0.5) * Double(width) / Double(newWidth) - 0.5, 0), Double(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = sx - Double(x0)
                let o = (y * newWidth + x) * 3
                let i00 = (y0 * width + x0) * 3, i01 = (y0 * width + x1) * 3
                let i10 = (y1 * width + x0) * 3, i11 = (y1 * width + x1) * 3
                for c in 0..<3 {
                    let top: Double = Double(pixels[i00 + c]) * (1 - fx) + Double(pixels[i01 + c]) * fx
                    let bottom: Double = Double(pixels[i10 + c]) * (1 - fx) + Double(pixels[i11 + c]) * fx
                    out.pixels[o + c] = UInt8((top * (1 - fy) + bottom * fy).rounded())
                }
            }
        }
        return out
    }

    /// This canvas scaled to fit in `width` × `height`, keeping its aspect ratio.
    public func resized(toFit width: Int, _ height: Int) -> Canvas {
        let scale = min(Double(width) / Double(max(self.width, 1)), Double(height) / Double(max(self.height, 1)))
        return resized(width: max(1, Int((Double(self.width) * scale).rounded())),
                       height: max(1, Int((Double(self.height) * scale).rounded())))
    }

    /// Colours a grid of values (`rows` × `columns`, row-major) over the whole canvas, each
    /// value stretched bilinearly to the canvas size and blended with opacity `opacity`. With
    /// `fadeLow`, opacity also scales with the value's place in `scale`'s range, so low values
    /// leave the image visible (an attribution heat map). Non-finite values are left out.
    public mutating func overlay(_ values: [Float], rows: Int, columns: Int, scale: ColourScale,
                                 opacity: Double = 0.5, fadeLow: Bool = false) {
        guard rows > 0, columns > 0, values.count == rows * columns else { return }
        for y in 0..<height {
            let sy = min(max((Double(y) + 0.5) * Double(rows) / Double(height) - 0.5, 0), Double(rows - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, rows - 1), fy = sy - Double(y0)
            for x in 0..<width {
                let sx = min(max((Double(x) + 0.5) * Double(columns) / Double(width) - 0.5, 0), Double(columns - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, columns - 1), fx = sx - Double(x0)
                let top = Double(values[y0 * columns + x0]) * (1 - fx) + Double(values[y0 * columns + x1]) * fx
                let bottom = Double(values[y1 * columns + x0]) * (1 - fx) + Double(values[y1 * columns + x1]) * fx
                let value = top * (1 - fy) + bottom * fy
                guard value.isFinite else { continue }
                let alpha = fadeLow ? opacity * min(max(scale.fraction(of: value), 0), 1) : opacity
                blend(x: x, y: y, scale.colour(for: value), alpha: alpha)
            }
        }
    }
}
