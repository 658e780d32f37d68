import BERGAnalysis
import Foundation

/// Procedural test images: uniform fields, edges, gratings at four orientations and two
/// frequencies, a plaid, a checkerboard, colour ramps and a hue wheel, discs, and seeded white
/// and 1/f noise. Together with the retinotopy stimuli they are the stimuli `berg publish`
/// checks a model with by default: cheap to make, the same bytes every time, and varied
/// enough that a change in any preprocessing or network step changes some response.
/// Names sort by family (`pattern-black` … `pattern-white`).
public enum TestImages {
    public static func make(size: Int) -> [RetinotopyStimuli.Image] {
        let n = Double(size)
        /// Luminance images: `value(x, y)` in [0, 1] at pixel centres, x and y in [0, 1).
        func grey(_ name: String, _ value: (Double, Double) -> Double) -> RetinotopyStimuli.Image {
            colour(name) { x, y in let v = value(x, y); return (v, v, v) }
        }
        func colour(_ name: String, _ rgb: (Double, Double) -> (Double, Double, Double)) -> RetinotopyStimuli.Image {
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for row in 0..<size {
                for column in 0..<size {
                    let (r, g, b) = rgb((Double(column) + 0.5) / n, (Double(row) + 0.5) / n)
                    let i = (row * size + column) * 3
                    pixels[i] = byte(r); pixels[i + 1] = byte(g); pixels[i + 2] = byte(b)
                }
            }
            return RetinotopyStimuli.Image(name: "pattern-\(name)", rgb: pixels)
        }
        func grating(_ degrees: Double, cycles: Double) -> (Double, Double) -> Double {
            let angle = degrees * .pi / 180
            return { x, y in 0.5 + 0.5 * sin(2 * .pi * cycles * (x * cos(angle) - y * sin(angle))) }
        }
        var images = [
            grey("blank") { _, _ in 128.0 / 255 },
            grey("black") { _, _ in 0 },
            grey("white") { _, _ in 1 },
            grey("edge") { x, _ in x < 0.5 ? 0.1 : 0.9 },
            grey("checkerboard") { x, y in (Int(x * 8) + Int(y * 8)) % 2 == 0 ? 0 : 1 },
            grey("grating-fine", grating(45, cycles: 24)),
            grey("plaid") { x, y in (grating(0, cycles: 6)(x, y) + grating(90, cycles: 6)(x, y)) / 2 },
            colour("colour-ramp") { x, y in (x, y, 1 - x) },
            colour("hue-wheel") { x, y in
                let dx = x - 0.5, dy = 0.5 - y
                return hsv(hue: (atan2(dy, dx) / (2 * .pi) + 1).truncatingRemainder(dividingBy: 1),
                           saturation: min(1, 2 * (dx * dx + dy * dy).squareRoot()), value: 1)
            },
            colour("discs") { x, y in
                let discs: [(Double, Double, Double, (Double, Double, Double))] = [
                    (0.3, 0.3, 0.15, (0.9, 0.1, 0.1)), (0.7, 0.35, 0.2, (0.1, 0.8, 0.2)), (0.45, 0.72, 0.18, (0.15, 0.2, 0.9))]
                for (cx, cy, radius, rgb) in discs where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius { return rgb }
                return (0.5, 0.5, 0.5)
            },
            noise("noise-white", size: size, octaves: 0),
            noise("noise-pink", size: size, octaves: 6),
        ]
        for degrees in [0, 45, 90, 135] {
            images.append(grey("grating-\(String(format: "%03d", degrees))", grating(Double(degrees), cycles: 6)))
        }
        return images.sorted { $0.name < $1.name }
    }

    /// Seeded grey noise: white (one random value per pixel), or with `octaves` above 0 the sum
    /// of that many octaves of bilinear value noise with amplitude halving as the frequency
    /// doubles (a 1/f spectrum, as natural images have), stretched to the full range.
    static func noise(_ name: String, size: Int, octaves: Int) -> RetinotopyStimuli.Image {
        var generator = Xoshiro256StarStar(seed: 20_250_101, stream: UInt64(octaves))
        func random() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
        var field = [Double](repeating: 0, count: size * size)
        if octaves == 0 {
            for i in field.indices { field[i] = random() }
        } else {
            for octave in 0..<octaves {
                let cells = 2 << octave, amplitude = 1 / Double(1 << octave)
                let grid = (0...cells).map { _ in (0...cells).map { _ in random() } }
                for row in 0..<size {
                    let gy = (Double(row) + 0.5) / Double(size) * Double(cells)
                    let y0 = min(Int(gy), cells - 1), fy = gy - Double(y0)
                    for column in 0..<size {
                        let gx = (Double(column) + 0.5) / Double(size) * Double(cells)
                        let x0 = min(Int(gx), cells - 1), fx = gx - Double(x0)
                        let top = grid[y0][x0] * (1 - fx) + grid[y0][x0 + 1] * fx
                        let bottom = grid[y0 + 1][x0] * (1 - fx) + grid[y0 + 1][x0 + 1] * fx
                        field[row * size + column] += amplitude * (top * (1 - fy) + bottom * fy)
                    }
                }
            }
        }
        let low = field.min() ?? 0, high = field.max() ?? 1
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for (i, value) in field.enumerated() {
            let v = byte(high > low ? (value - low) / (high - low) : 0.5)
            pixels[3 * i] = v; pixels[3 * i + 1] = v; pixels[3 * i + 2] = v
        }
        return RetinotopyStimuli.Image(name: "pattern-\(name)", rgb: pixels)
    }

    private static func byte(_ value: Double) -> UInt8 {
        UInt8(max(0, min(255, (value * 255).rounded())))
    }

    private static func hsv(hue: Double, saturation: Double, value: Double) -> (Double, Double, Double) {
        let h = hue * 6, sector = Int(h) % 6, f = h - Double(Int(h))
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        switch sector {
        case 0: return (value, t, p)
        case 1: return (q, value, p)
        case 2: return (p, value, t)
        case 3: return (p, q, value)
        case 4: return (t, p, value)
        default: return (value, p, q)
        }
    }
}
