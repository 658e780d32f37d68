import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class ImageCodecTests: XCTestCase {
    static let images = ["rgb420.jpg", "rgb444.jpg", "gray.jpg", "rgb.png", "gray.png", "bilevel.png", "palette.png",
                         "palette_trns.png", "rgba.png", "la.png", "gray16.png", "gray16_full.png", "rgb16.png", "rgba16.png", "gamma.png"]

    /// Every colour type and bit depth decodes to exactly what Pillow's convert("RGB") gives
    /// (16-bit grayscale: what Pillow gives for the same samples as 16-bit RGB, the high byte,
    /// where its own I;16 conversion would clip them to 255; see make_io_fixtures.py).
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

    /// 16-bit grayscale spans the 8-bit range (levels evenly from 0 to 65535): the high
    /// byte of each sample, not Pillow's clip that turns almost all of it white.
    func testSixteenBitGrayIsScaledNotClipped() throws {
        let decoded = try ImageCodec.decode(IOFixtures.path("images/gray16_full.png"))
        let saturated = decoded.pixels.filter { $0 == 255 }.count
        XCTAssertLessThan(Double(saturated) / Double(decoded.pixels.count), 0.01)
        XCTAssertEqual(decoded.pixels.min(), 0)
        XCTAssertEqual(decoded.pixels.max(), 255)
    }

    /// Transparency is dropped as Pillow drops it, and said: a note for images with pixels
    /// that are not opaque, none for opaque ones (including 16-bit RGBA whose alpha is full).
    func testTransparencyGivesANote() throws {
        for (name, noted) in [("rgba.png", true), ("la.png", true), ("palette_trns.png", true), ("rgba16.png", false),
                              ("rgb.png", false), ("rgb420.jpg", false)] {
            let image = try ImageCodec.decodeImage(IOFixtures.path("images/\(name)"))
            XCTAssertEqual(!image.notes.isEmpty, noted, "\(name): \(image.notes)")
            if noted { XCTAssertTrue(image.notes[0].contains(name) && image.notes[0].contains("alpha channel was dropped"), image.notes[0]) }
        }
        // Pillow keeps the colour under the transparency: the pixels are those of the fixture.
        let rgba = try ImageCodec.decode(IOFixtures.path("images/rgba.png"))
        XCTAssertEqual(rgba.pixels, try IOFixtures.rgb("images/rgba.png.rgb.npy").pixels)
    }

    /// Other image formats are named by their first bytes, whatever the file is called.
    func testOtherFormatsAreRefusedByName() throws {
        for (name, format) in [("image.gif", "GIF"), ("image.bmp", "BMP"), ("image.webp", "WebP"), ("image.tif", "TIFF")] {
            let data = try IOFixtures.data("unsupported/\(name)")
            XCTAssertEqual(ImageCodec.unsupportedFormat(of: data), format, name)
            let error = assertThrowsBERGError(try ImageCodec.decode(data, path: "photo.png"))
            XCTAssertEqual(error?.message.hasPrefix("photo.png: \(format) is not supported; JPEG and PNG are."), true, "\(String(describing: error))")
        }
        // A list file whose first line starts "BM" is not a bitmap; text is no image at all.
        XCTAssertNil(ImageCodec.unsupportedFormat(of: Data("BMW/car.jpg\nBMW/van.jpg\n".utf8)))
        XCTAssertNil(ImageCodec.unsupportedFormat(of: Data("images/a.png\n".utf8)))
        XCTAssertNil(ImageCodec.unsupportedFormat(of: try IOFixtures.data("images/rgb.png")))
    }

    /// Headers give size, depth and colour without decoding; they agree with the decode.
    func testHeadersWithoutDecoding() throws {
        for name in Self.images {
            let data = try IOFixtures.data("images/\(name)")
            let header = try ImageCodec.header(of: data, path: name)
            let decoded = try ImageCodec.decode(data, path: name)
            XCTAssertEqual([header.width, header.height], [decoded.width, decoded.height], name)
        }
        let rgba16 = try ImageCodec.header(of: IOFixtures.data("images/rgba16.png"), path: "rgba16.png")
        XCTAssertEqual([rgba16.bitDepth], [16])
        XCTAssertEqual(rgba16.colour, "RGBA")
        XCTAssertTrue(rgba16.hasAlpha)
        let palette = try ImageCodec.header(of: IOFixtures.data("images/palette_trns.png"), path: "p.png")
        XCTAssertEqual(palette.colour, "palette")
        XCTAssertTrue(palette.hasAlpha, "a tRNS chunk")
        let jpeg = try ImageCodec.header(of: IOFixtures.data("images/gray.jpg"), path: "gray.jpg")
        XCTAssertEqual(jpeg.colour, "gray")
        XCTAssertFalse(jpeg.hasAlpha)
    }
}
