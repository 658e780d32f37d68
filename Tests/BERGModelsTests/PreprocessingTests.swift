import BERGCompute
import BERGCore
import BERGFormats
@testable import BERGModels
import BERGRegistry
import Foundation
import XCTest

/// The shared preprocessing record, applied by the encoders.
final class PreprocessingTests: XCTestCase {
    /// Pillow's crops of a wide and a tall PNG (Tools/reference/make_io_fixtures.py), kept with
    /// the image-reading fixtures.
    static let crops = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("BERGFormatsTests/Fixtures/io/crops")

    func image(_ name: String) throws -> Stimulus {
        try StimulusLoader.load(Self.crops.appendingPathComponent(name).path)
    }

    func expectedSquare(_ name: String) throws -> [UInt8] {
        let t = try NPYFile.read(Self.crops.appendingPathComponent(name).path)
        let (h, w) = (t.shape[0], t.shape[1]), hwc = t.int64s.map(UInt8.init)
        return (0..<3).flatMap { c in (0..<(h * w)).map { hwc[3 * $0 + c] } }
    }

    func testSquareCropMatchesPillowForWideAndTallImages() throws {
        let square = Preprocessing(squareCrop: true)
        for name in ["wide.png", "tall.png"] {
            let cropped = try square.resized(image(name))
            XCTAssertEqual(cropped.shape[2], cropped.shape[3])
            XCTAssertEqual(cropped.int64s.map(UInt8.init), try expectedSquare("\(name).square.npy"), name)
        }
        let wide = try image("wide.png")
        XCTAssertTrue(square.cropNote(for: wide)?.contains("24×24 of 40×24") ?? false)
        XCTAssertNil(Preprocessing().cropNote(for: wide), "no square crop, no note")
    }

    /// Each step is the ImageResize call it names, in order.
    func testStepsAreTheResizeAndCropTheyName() throws {
        let wide = try image("wide.png")
        let torchvision = Preprocessing(resize: .torchvisionBilinear, shorterSide: 30, crop: 28,
                                        mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let (h, w) = ImageResize.shorterSideSize(height: wide.height, width: wide.width, size: 30)
        let expected = try ImageResize.toFloat(
            ImageResize.centerCrop(ImageResize.torchvisionBilinear(wide.tensor, height: h, width: w), height: 28, width: 28),
            mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        XCTAssertEqual(try torchvision.apply(wide), expected)
        let pil = Preprocessing(resize: .pilBilinear, size: [13, 17])
        XCTAssertEqual(try pil.resized(wide), try ImageResize.pil(wide.tensor, height: 13, width: 17, filter: .bilinear))
        // An image already at the target size is left alone.
        XCTAssertEqual(try Preprocessing(resize: .torchvisionBilinear, size: [24, 40]).resized(wide), wide.tensor)
    }
}
