import BERGPlot
import XCTest

final class ColourTests: XCTestCase {
    // End colours as matplotlib's sources give them (_cm_listed.py, _cm.py), rounded to 8 bits.
    func testMapsHitTheirDocumentedEnds() {
        XCTAssertEqual(ColourMap.viridis.colour(at: 0), Colour(hex: 0x440154))
        XCTAssertEqual(ColourMap.viridis.colour(at: 1), Colour(hex: 0xFDE725))
        XCTAssertEqual(ColourMap.inferno.colour(at: 0), Colour(hex: 0x000004))
        XCTAssertEqual(ColourMap.inferno.colour(at: 1), Colour(hex: 0xFCFFA4))
        XCTAssertEqual(ColourMap.coolwarm.colour(at: 0), Colour(59, 76, 192))    // 0.2298, 0.2987, 0.7537
        XCTAssertEqual(ColourMap.coolwarm.colour(at: 1), Colour(180, 4, 38))     // 0.7057, 0.0156, 0.1502
        XCTAssertEqual(ColourMap.twilight.colour(at: 0), Colour(226, 217, 226))  // 0.8858, 0.8500, 0.8880
        XCTAssertEqual(ColourMap.hsv.colour(at: 0), Colour(255, 0, 0))
        XCTAssertEqual(ColourMap.greys.colour(at: 0), .black)
        XCTAssertEqual(ColourMap.greys.colour(at: 1), .white)
        for map in [ColourMap.viridis, .inferno, .coolwarm, .twilight, .hsv] { XCTAssertEqual(map.colours.count, 256, map.name) }
    }

    func testOrdinaryMapsClampAndCyclicMapsWrap() {
        XCTAssertEqual(ColourMap.viridis.colour(at: -3), ColourMap.viridis.colour(at: 0))
        XCTAssertEqual(ColourMap.viridis.colour(at: 7), ColourMap.viridis.colour(at: 1))
        XCTAssertEqual(ColourMap.viridis.colour(at: .nan), ColourMap.viridis.colour(at: 0))
        XCTAssertFalse(ColourMap.viridis.isCyclic)
        XCTAssertTrue(ColourMap.twilight.isCyclic)
        XCTAssertEqual(ColourMap.twilight.colour(at: 1.25), ColourMap.twilight.colour(at: 0.25))
        XCTAssertEqual(ColourMap.twilight.colour(at: -0.25), ColourMap.twilight.colour(at: 0.75))
        XCTAssertEqual(ColourMap.hsv.colour(at: 1), ColourMap.hsv.colour(at: 0))
        // A third of the way round the hue circle is green.
        let green = ColourMap.hsv.colour(at: 1.0 / 3)
        XCTAssertGreaterThan(green.green, 200)
        XCTAssertLessThan(green.red, 60)
    }

    func testScaleMapsItsRangeOntoTheMap() {
        let scale = ColourScale(map: .viridis, range: 2...10)
        XCTAssertEqual(scale.colour(for: 2), ColourMap.viridis.colour(at: 0))
        XCTAssertEqual(scale.colour(for: 10), ColourMap.viridis.colour(at: 1))
        XCTAssertEqual(scale.colour(for: 6), ColourMap.viridis.colour(at: 0.5))
        XCTAssertEqual(scale.colour(for: .nan), scale.missing)
        let fitted = ColourScale(map: .coolwarm, fitting: [Float(-0.2), 0.5, .nan, .infinity], symmetric: true)
        XCTAssertEqual(fitted.range, -0.5...0.5)
        XCTAssertEqual(ColourScale(map: .viridis, fitting: [3.0, 3.0]).range, 2.5...3.5)
    }

    func testMixing() {
        XCTAssertEqual(Colour.black.mixed(with: .white, amount: 0.5), Colour(grey: 128))
        XCTAssertEqual(Colour.red.mixed(with: .white, amount: 0), .red)
        var canvas = Canvas(width: 1, height: 1, background: .black)
        canvas.blend(x: 0, y: 0, .white, alpha: 0.25)
        XCTAssertEqual(canvas[0, 0], Colour(grey: 64))
    }
}
