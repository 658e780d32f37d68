import BERGPlot
import XCTest

final class TextTests: XCTestCase {
    /// Pixels of `canvas` that are not white, inside and outside `box`.
    private func inked(_ canvas: Canvas, _ box: Rect) -> (inside: Int, outside: Int) {
        var inside = 0, outside = 0
        for y in 0..<canvas.height {
            for x in 0..<canvas.width where canvas[x, y] != .white {
                if x >= box.minX, x < box.maxX, y >= box.minY, y < box.maxY { inside += 1 } else { outside += 1 }
            }
        }
        return (inside, outside)
    }

    func testTextInksItsBoxAndNothingElse() {
        for font in [BitmapFont.small, .regular, .bold] {
            var canvas = Canvas(width: 200, height: 40)
            let box = canvas.drawText("Eccentricity 8.4°", at: Point(10, 5), font: font)
            let (inside, outside) = inked(canvas, box)
            XCTAssertGreaterThan(inside, 50, font.name)
            XCTAssertEqual(outside, 0, font.name)
            XCTAssertEqual(box.height, font.lineHeight, font.name)
            XCTAssertEqual(box.width, font.width(of: "Eccentricity 8.4°"), font.name)
            // The glyphs really are dark, not a faint smear.
            XCTAssertTrue((0..<canvas.height).contains { y in (0..<canvas.width).contains { canvas[$0, y].red < 60 } }, font.name)
        }
    }

    func testWidthGrowsWithTextAndSize() {
        for font in [BitmapFont.small, .regular, .bold] {
            XCTAssertEqual(font.width(of: ""), 0)
            XCTAssertGreaterThan(font.width(of: "ab"), font.width(of: "a"))
            XCTAssertGreaterThan(font.width(of: "polar angle"), font.width(of: "polar"))
        }
        XCTAssertGreaterThan(BitmapFont.regular.width(of: "V1 responses"), BitmapFont.small.width(of: "V1 responses"))
        XCTAssertGreaterThan(BitmapFont.regular.lineHeight, BitmapFont.small.lineHeight)
        XCTAssertGreaterThan(BitmapFont.bold.lineHeight, BitmapFont.regular.lineHeight)
    }

    func testDifferentTextsDrawDifferentPixels() {
        var a = Canvas(width: 60, height: 20), b = Canvas(width: 60, height: 20)
        a.drawText("ring", at: Point(2, 2))
        b.drawText("bar", at: Point(2, 2))
        XCTAssertNotEqual(a.pixels, b.pixels)
    }

    func testSymbolsAndUnknownCharactersDraw() {
        for text in ["°", "−", "σ", "\u{4E2D}"] {   // the last is not in the font: drawn as "?"
            var canvas = Canvas(width: 30, height: 20)
            let box = canvas.drawText(text, at: Point(2, 2))
            XCTAssertGreaterThan(inked(canvas, box).inside, 0, text)
        }
    }

    func testAnchorsPlaceTheBox() {
        var canvas = Canvas(width: 200, height: 100)
        let width = BitmapFont.regular.width(of: "label"), height = BitmapFont.regular.lineHeight
        XCTAssertEqual(canvas.drawText("label", at: Point(100, 50), anchor: .topLeft), Rect(x: 100, y: 50, width: width, height: height))
        XCTAssertEqual(canvas.drawText("label", at: Point(100, 50), anchor: .bottomRight),
                       Rect(x: 100 - width, y: 50 - height, width: width, height: height))
        let centred = canvas.drawText("label", at: Point(100, 50), anchor: .centre)
        XCTAssertEqual(Double(centred.minX + centred.maxX) / 2, 100, accuracy: 1)
    }

    func testVerticalTextIsTurned() {
        var canvas = Canvas(width: 40, height: 120)
        let box = canvas.drawText("voxels", at: Point(5, 110), anchor: .bottomLeft, vertical: true)
        XCTAssertEqual(box.width, BitmapFont.regular.lineHeight)
        XCTAssertEqual(box.height, BitmapFont.regular.width(of: "voxels"))
        XCTAssertEqual(box.maxY, 110)
        XCTAssertEqual(inked(canvas, box).outside, 0)
    }

    func testTruncationFitsAndMarksTheCut() {
        let font = BitmapFont.small
        let short = font.truncated("a_very_long_file_name.png", toWidth: 60)
        XCTAssertLessThanOrEqual(font.width(of: short), 60)
        XCTAssertTrue(short.hasSuffix("…"))
        XCTAssertEqual(font.truncated("v1.png", toWidth: 60), "v1.png")
    }

    func testCaptionAndTitleAddBands() {
        let panel = Canvas(width: 80, height: 50, background: .black)
        let titled = panel.titled("a title much wider than the panel")
        XCTAssertGreaterThanOrEqual(titled.width, BitmapFont.bold.width(of: "a title much wider than the panel"))
        XCTAssertGreaterThan(titled.height, 50)
        let captioned = panel.captioned("name.png")
        XCTAssertEqual(captioned.width, 80)
        XCTAssertEqual(captioned[40, 10], .black)   // the panel stays on top
    }
}
