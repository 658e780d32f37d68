import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class ImageCodecTests: XCTestCase {
    static let images = ["rgb420.jpg", "rgb444.jpg", "gray.jpg", "rgb.png", "gray.png", "bilevel.png", "palette.png",
                         "palette_trns.png", "rgba.png", "la.png", "gray16.png", "rgb16.png", "rgba16.png", "gamma.png"]

    /// Every colour type and bit depth decodes to exactly what Pillow's convert("RGB") gives.
    func testDecodesLikePillow() throws {
        for name in Self.images {
            let expected = try IOFixtures.rgb("images/\(name).rgb.npy")
            let decoded = try ImageCodec.decode(IOFixtures.path("images/\(name)"))
            XCTAssertEqual(decoded.width, expected.width, name)
            XCTAssertEqual(decoded.height, expected.height, name)
            let differing = zip(decoded.pixels, expected.pixels).filter { $0 != $1 }.count
            XCTAssertEqual(decoded.pixels.count, expected.pixels.count, name)
            XCTAssertEqual(differing, 0, "\(name): \(differing) samples differ from Pillow")
        }
    }

    /// Cutting a file short at any byte gives a BERGError, never a crash or a wrong image. The one
    /// exception is a PNG cut inside its 12-byte IEND trailer, after all pixel data: like Pillow,
    /// libpng then returns the whole image, which must equal the uncut decode.
    func testTruncatedImagesThrowAtEveryOffset() throws {
        for name in ["rgb420.jpg", "gray.jpg", "rgb.png", "palette.png", "rgb16.png"] {
            let data = try IOFixtures.data("images/\(name)")
            let whole = try ImageCodec.decode(data, path: name)
            for length in 0..<data.count {
                if name.hasSuffix(".png"), length >= data.count - 12 {
                    let decoded = try? ImageCodec.decode(data.prefix(length), path: name)
                    if let decoded { XCTAssertEqual(decoded.pixels, whole.pixels, "\(name) cut at \(length)") }
                    continue
                }
                assertThrowsBERGError(try ImageCodec.decode(data.prefix(length), path: name), "\(name) cut at \(length)")
            }
        }
    }

    func testCorruptImagesThrow() throws {
        var png = try IOFixtures.data("images/rgb.png")
        for i in stride(from: 60, to: png.count - 20, by: 7) { png[i] ^= 0x5A }
        assertThrowsBERGError(try ImageCodec.decode(png, path: "rgb.png"))
        var jpeg = try IOFixtures.data("images/rgb420.jpg")
        // Garble the header segments (quantisation and Huffman tables).
        for i in 20..<200 { jpeg[i] = 0xFF }
        assertThrowsBERGError(try ImageCodec.decode(jpeg, path: "rgb420.jpg"))
        let error = assertThrowsBERGError(try ImageCodec.decode(Data("hello".utf8), path: "notes.txt"))
        XCTAssertTrue(error?.message.contains("notes.txt") ?? false)
    }

    func testMissingFileNamesIt() {
        let error = assertThrowsBERGError(try ImageCodec.decode("/nonexistent/berg/missing.png"))
        XCTAssertEqual(error, .fileNotFound(path: "/nonexistent/berg/missing.png", hint: "Check the image path"))
    }

    /// A PNG we write decodes (by us) to the pixels we wrote, and starts with the PNG signature.
    func testPNGWriteRoundTrip() throws {
        let folder = try IOFixtures.scratchFolder(self)
        let source = try IOFixtures.rgb("images/rgb.png.rgb.npy")
        let path = folder + "/out.png"
        try ImageCodec.writePNG(rgb: source.pixels, width: source.width, height: source.height, to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(ImageCodec.format(of: data), .png)
        let back = try ImageCodec.decode(path)
        XCTAssertEqual(back.pixels, source.pixels)
        XCTAssertEqual([back.width, back.height], [source.width, source.height])

        let gray = (0..<(7 * 5)).map { UInt8($0 * 7) }
        try ImageCodec.writeGrayPNG(gray, width: 7, height: 5, to: folder + "/gray.png")
        let grayBack = try ImageCodec.decode(folder + "/gray.png")
        XCTAssertEqual(grayBack.pixels, gray.flatMap { [$0, $0, $0] })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["gray.png", "out.png"])
    }

    func testPNGWriteErrors() {
        assertThrowsBERGError(try ImageCodec.writePNG(rgb: [1, 2, 3], width: 2, height: 1, to: "/tmp/x.png"))
        let error = assertThrowsBERGError(try ImageCodec.writePNG(rgb: [1, 2, 3], width: 1, height: 1, to: "/nonexistent/berg/x.png"))
        if case .writeFailed? = error {} else { XCTFail("expected writeFailed, got \(String(describing: error))") }
    }
}
