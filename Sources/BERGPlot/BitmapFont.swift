import Foundation

/// A font of pre-rendered, anti-aliased glyphs: DejaVu Sans at a few pixel sizes
/// (`BitmapFont.small`, `.regular`, `.bold`), generated once by `Tools/fonts/make_bitmap_font.py`
/// so that pictures need no font file at run time. Characters it lacks draw as `?`.
public struct BitmapFont: Sendable {
    struct Glyph: Sendable {
        /// Pen advance in 1/64 pixel.
        var advance64: Int
        /// Bitmap offset from the pen position: `left` to the right, `top` above the baseline.
        var left: Int
        var top: Int
        var width: Int
        var height: Int
        /// Coverage, row-major, 0…255.
        var coverage: [UInt8]
    }

    public let name: String
    /// Pixels from the top of a line to its baseline.
    public let ascent: Int
    /// Pixels from the baseline to the bottom of a line.
    public let descent: Int
    /// Height of a capital letter above the baseline, used to centre text on a point.
    public let capHeight: Int
    let glyphs: [Unicode.Scalar: Glyph]

    /// Height of one line of text.
    public var lineHeight: Int { ascent + descent }

    init(name: String, ascent: Int, descent: Int, glyphData: String) {
        self.name = name
        self.ascent = ascent
        self.descent = descent
        var glyphs: [Unicode.Scalar: Glyph] = [:]
        let bytes = [UInt8](Data(base64Encoded: glyphData, options: .ignoreUnknownCharacters) ?? Data())
        var i = 0
        // Layout (see the generator): u32 code point, u16 advance64, i8 left, i8 top, u8 width, u8 height, coverage.
        while i + 10 <= bytes.count {
            let code = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            let advance = Int(bytes[i + 4]) | Int(bytes[i + 5]) << 8
            let left = Int(Int8(bitPattern: bytes[i + 6])), top = Int(Int8(bitPattern: bytes[i + 7]))
            let width = Int(bytes[i + 8]), height = Int(bytes[i + 9])
            i += 10
            guard i + width * height <= bytes.count, let scalar = Unicode.Scalar(code) else { break }
            glyphs[scalar] = Glyph(advance64: advance, left: left, top: top, width: width, height: height,
                                   coverage: Array(bytes[i..<i + width * height]))
            i += width * height
        }
        self.glyphs = glyphs
        capHeight = glyphs["H"]?.top ?? ascent * 3 / 4
    }

    func glyph(_ scalar: Unicode.Scalar) -> Glyph? {
        glyphs[scalar] ?? glyphs["?"]
    }

    /// The width in pixels of one line of `text`.
    public func width(of text: String) -> Int {
        var pen64 = 0
        for scalar in text.unicodeScalars { pen64 += glyph(scalar)?.advance64 ?? 0 }
        return (pen64 + 63) / 64
    }

    /// `text`, shortened with a trailing "…" until it fits in `width` pixels.
    public func truncated(_ text: String, toWidth width: Int) -> String {
        guard self.width(of: text) > width else { return text }
        var characters = Array(text)
        while !characters.isEmpty && self.width(of: String(characters) + "…") > width { characters.removeLast() }
        return String(characters) + "…"
    }

    /// `text` broken at spaces into lines no wider than `width` pixels (a single word wider than
    /// that gets a line of its own).
    public func wrapped(_ text: String, toWidth width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if self.width(of: candidate) > width, !line.isEmpty {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// The coverage mask of one line of `text`, `width(of:)` × `lineHeight` pixels, the baseline at row `ascent`.
    func mask(_ text: String) -> TextMask {
        let width = max(width(of: text), 1), height = lineHeight
        var coverage = [UInt8](repeating: 0, count: width * height)
        var pen64 = 0
        for scalar in text.unicodeScalars {
            guard let g = glyph(scalar) else { continue }
            let originX = (pen64 + 32) / 64 + g.left, originY = ascent - g.top
            for row in 0..<g.height {
                let y = originY + row
                guard y >= 0, y < height else { continue }
                for column in 0..<g.width {
                    let x = originX + column
                    guard x >= 0, x < width else { continue }
                    let value = g.coverage[row * g.width + column]
                    let index = y * width + x
                    coverage[index] = max(coverage[index], value)
                }
            }
            pen64 += g.advance64
        }
        return TextMask(width: width, height: height, coverage: coverage)
    }
}

/// Anti-aliased coverage (0…255) of rendered text, row-major.
struct TextMask {
    var width: Int
    var height: Int
    var coverage: [UInt8]

    /// The mask turned a quarter turn counter-clockwise (text then reads bottom to top).
    func rotatedCounterClockwise() -> TextMask {
        var turned = [UInt8](repeating: 0, count: coverage.count)
        for y in 0..<height {
            for x in 0..<width {
                turned[(width - 1 - x) * height + y] = coverage[y * width + x]
            }
        }
        return TextMask(width: height, height: width, coverage: turned)
    }
}
