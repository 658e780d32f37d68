import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import BERGModels
import XCTest

final class RetinotopyStimuliTests: XCTestCase {
    let size = 64
    lazy var images = Dictionary(uniqueKeysWithValues: RetinotopyStimuli.make(size: size).map { ($0.name, $0.rgb) })

    /// The grey value of the pixel at (x, y) degrees, y up, in a field of radius 8.4°.
    func value(_ name: String, x: Double, y: Double) -> UInt8 {
        let column = Int((x / 8.4 + 1) / 2 * Double(size)), row = Int((1 - y / 8.4) / 2 * Double(size))
        return images[name]![(row * size + column) * 3]
    }

    func isStimulus(_ v: UInt8) -> Bool { v == 0 || v == 255 }

    func testFamiliesAndValues() {
        XCTAssertEqual(images.count, 32)
        for family in ["ring", "wedge", "bar-x", "bar-y"] {
            XCTAssertEqual(images.keys.filter { $0.hasPrefix(family + "-") }.count, 8, family)
        }
        for rgb in images.values {
            XCTAssertEqual(rgb.count, size * size * 3)
            XCTAssertTrue(rgb.allSatisfy { $0 == 0 || $0 == 128 || $0 == 255 }, "checks on mean grey")
        }
    }

    func testApertures() {
        XCTAssertTrue(isStimulus(value("ring-0", x: 0.2, y: 0.1)), "the first ring covers the centre")
        XCTAssertFalse(isStimulus(value("ring-0", x: 6, y: 0)))
        XCTAssertTrue(isStimulus(value("ring-7", x: 6, y: 0)) || isStimulus(value("ring-7", x: 7, y: 0)), "the last ring is peripheral")
        XCTAssertTrue(isStimulus(value("ring-7", x: 8.1, y: 0)) && isStimulus(value("ring-7", x: 0, y: -8.1)), "the last ring reaches the field's edge")
        XCTAssertFalse(isStimulus(value("ring-5", x: 8.1, y: 0)))
        XCTAssertTrue(isStimulus(value("wedge-0", x: 4, y: 0.3)), "wedge 0 is on the right horizontal meridian")
        XCTAssertFalse(isStimulus(value("wedge-0", x: -4, y: 0.3)))
        XCTAssertTrue(isStimulus(value("wedge-2", x: 0.3, y: 4)), "wedge 2 is on the upper vertical meridian")
        XCTAssertTrue(isStimulus(value("bar-x-0", x: -7.5, y: 0)) && !isStimulus(value("bar-x-0", x: 7.5, y: 0)), "bars sweep left to right")
        XCTAssertTrue(isStimulus(value("bar-y-0", x: 0, y: -7.5)) && !isStimulus(value("bar-y-0", x: 0, y: 7.5)), "and bottom to top")
        XCTAssertEqual(value("bar-x-0", x: -8.3, y: 8.3), RetinotopyStimuli.grey, "grey outside the circular field")
    }

    func testRingsCoverTheFieldFromCentreToEdge() {
        XCTAssertEqual(RetinotopyStimuli.ringBand(0).lowerBound, 0)
        XCTAssertGreaterThanOrEqual(RetinotopyStimuli.ringBand(7).upperBound, 8.4)
        XCTAssertEqual(RetinotopyStimuli.ringCentre(7), 8.4, accuracy: 1e-9)
        for k in 0..<7 {
            // Each ring overlaps the next, and sits further out.
            XCTAssertGreaterThan(RetinotopyStimuli.ringBand(k).upperBound, RetinotopyStimuli.ringBand(k + 1).lowerBound)
            XCTAssertLessThan(RetinotopyStimuli.ringCentre(k), RetinotopyStimuli.ringCentre(k + 1))
        }
        XCTAssertEqual(RetinotopyStimuli.barBand(0).lowerBound, -8.4, accuracy: 1e-9)
        XCTAssertEqual(RetinotopyStimuli.barBand(7).upperBound, 8.4, accuracy: 1e-9)
        XCTAssertEqual(RetinotopyStimuli.wedgeCentre(2), 90)
    }
}
