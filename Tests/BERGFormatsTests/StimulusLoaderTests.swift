import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class StimulusLoaderTests: XCTestCase {
    /// Copies fixture images into a scratch folder under new names.
    private func folder(_ files: [String: String]) throws -> String {
        let folder = try IOFixtures.scratchFolder(self)
        for (target, source) in files {
            let destination = URL(fileURLWithPath: folder + "/" + target)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: IOFixtures.path(source), toPath: destination.path)
        }
        return folder
    }

    private func expectedCHW(_ npy: String) throws -> [UInt8] {
        let e = try IOFixtures.rgb(npy)
        return IOFixtures.chw(e.pixels, height: e.height, width: e.width)
    }

    func testFolderLoadsInSortedNameOrderAsCHW() throws {
        let dir = try folder(["b.png": "images/gray.png", "a.jpg": "images/rgb420.jpg", "c.png": "images/palette.png",
                              "notes.txt": "images/rgb.png.rgb.npy"])
        let stimulus = try StimulusLoader.load(dir)
        XCTAssertEqual(stimulus.names, ["a.jpg", "b.png", "c.png"])
        XCTAssertEqual([stimulus.count, stimulus.height, stimulus.width], [3, 17, 23])
        XCTAssertEqual(Array(stimulus.image(0)), try expectedCHW("images/rgb420.jpg.rgb.npy"))
        XCTAssertEqual(Array(stimulus.image(1)), try expectedCHW("images/gray.png.rgb.npy"))
        XCTAssertEqual(Array(stimulus.image(2)), try expectedCHW("images/palette.png.rgb.npy"))
    }

    func testSingleImageFile() throws {
        let stimulus = try StimulusLoader.load(IOFixtures.path("images/rgba.png"))
        XCTAssertEqual(stimulus.count, 1)
        XCTAssertEqual(stimulus.names, ["rgba.png"])
        XCTAssertEqual(stimulus.pixels, try expectedCHW("images/rgba.png.rgb.npy"))
    }

    func testListFileResolvesRelativePaths() throws {
        let dir = try folder(["x.png": "images/rgb.png"])
        try FileManager.default.createDirectory(atPath: dir + "/lists", withIntermediateDirectories: true)
        let list = "# stimuli\n../x.png\n\n\(IOFixtures.path("images/la.png"))\n"
        try list.write(toFile: dir + "/lists/stimuli.txt", atomically: true, encoding: .utf8)
        let stimulus = try StimulusLoader.load(dir + "/lists/stimuli.txt")
        XCTAssertEqual(stimulus.names, ["x.png", "la.png"])
        XCTAssertEqual(Array(stimulus.image(0)), try expectedCHW("images/rgb.png.rgb.npy"))
        XCTAssertEqual(Array(stimulus.image(1)), try expectedCHW("images/la.png.rgb.npy"))
    }

    func testNPYArraysInBothLayouts() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let hwc = try IOFixtures.rgb("images/rgb.png.rgb.npy")
        let chw = IOFixtures.chw(hwc.pixels, height: hwc.height, width: hwc.width)
        try NPYFile.write(try Tensor(shape: [2, hwc.height, hwc.width, 3], bytes: hwc.pixels + hwc.pixels.reversed()), to: dir + "/nhwc.npy")
        try NPYFile.write(try Tensor(shape: [1, 3, hwc.height, hwc.width], bytes: chw), to: dir + "/nchw.npy")
        let fromNHWC = try StimulusLoader.load(dir + "/nhwc.npy")
        XCTAssertEqual([fromNHWC.count, fromNHWC.height, fromNHWC.width], [2, hwc.height, hwc.width])
        XCTAssertEqual(Array(fromNHWC.image(0)), chw)
        XCTAssertEqual(Array(fromNHWC.image(1)), IOFixtures.chw(hwc.pixels.reversed(), height: hwc.height, width: hwc.width))
        let fromNCHW = try StimulusLoader.load(dir + "/nchw.npy")
        XCTAssertEqual(fromNCHW.pixels, chw)
        XCTAssertEqual(fromNCHW.names, ["nchw[0]"])

        try NPYFile.write(try Tensor(shape: [1, 2, 2, 3], floats: [Float](repeating: 0.5, count: 12)), to: dir + "/float.npy")
        let error = assertThrowsBERGError(try StimulusLoader.load(dir + "/float.npy"))
        XCTAssertTrue(error?.message.contains("uint8") ?? false)
    }

    /// A list naming files of one name in two folders gives names relative to their common
    /// folder, so that the stimuli stay apart.
    func testListedFilesOfOneNameInTwoFoldersKeepTheirFolders() throws {
        let dir = try folder(["A/x.png": "images/rgb.png", "B/x.png": "images/gray.png"])
        try "A/x.png\nB/x.png\n".write(toFile: dir + "/list.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try StimulusLoader.load(dir + "/list.txt").names, ["A/x.png", "B/x.png"])
    }

    func testDifferentSizesWithoutCropNameBothFilesAndTheFix() throws {
        let dir = try folder(["1-wide.png": "crops/wide.png", "2-tall.png": "crops/tall.png"])
        let error = assertThrowsBERGError(try StimulusLoader.load(dir))
        let message = error?.message ?? ""
        XCTAssertTrue(message.contains("1-wide.png") && message.contains("40×24"), message)
        XCTAssertTrue(message.contains("2-tall.png") && message.contains("24×37"), message)
        XCTAssertTrue(message.contains("Resize"), message)
    }

    func testRunsKeepInputOrderAcrossSizes() throws {
        let dir = try folder(["1.png": "crops/wide.png", "2.png": "images/rgb.png", "3.png": "images/gray.png",
                              "4.png": "crops/tall.png"])
        let runs = try StimulusLoader.loadRuns(dir)
        XCTAssertEqual(runs.map(\.names), [["1.png"], ["2.png", "3.png"], ["4.png"]])
        XCTAssertEqual(runs.map { [$0.width, $0.height] }, [[40, 24], [23, 17], [24, 37]])
        XCTAssertEqual(Array(runs[1].image(1)), try expectedCHW("images/gray.png.rgb.npy"))
    }

    /// Decoded on several threads a block at a time, images keep their order, and runs of one
    /// size carry across block boundaries; one thread gives the same stimuli.
    func testParallelDecodingKeepsOrderAndRunsAcrossBlocks() throws {
        var files: [String: String] = [:]
        let sources = ["images/rgb.png", "images/gray.png", "crops/wide.png"]
        // 25 files: 11 of 23×17, then 6 of 40×24, then 8 of 23×17, in name order.
        for i in 0..<25 { files[String(format: "%02d.png", i)] = (11..<17).contains(i) ? sources[2] : sources[i % 2] }
        let dir = try folder(files)
        let parallel = try StimulusLoader.loadRuns(dir, threads: 3)
        XCTAssertEqual(parallel.map(\.count), [11, 6, 8])
        XCTAssertEqual(parallel.flatMap(\.names), (0..<25).map { String(format: "%02d.png", $0) })
        XCTAssertEqual(Array(parallel[0].image(10)), try expectedCHW("images/rgb.png.rgb.npy"))
        XCTAssertEqual(Array(parallel[2].image(0)), try expectedCHW("images/gray.png.rgb.npy"))  // file 17
        XCTAssertEqual(Array(parallel[2].image(7)), try expectedCHW("images/rgb.png.rgb.npy"))  // file 24
        let serial = try StimulusLoader.loadRuns(dir, threads: 1)
        XCTAssertEqual(parallel.map(\.pixels), serial.map(\.pixels))
        XCTAssertEqual(parallel.map(\.names), serial.map(\.names))

        // With two corrupt files, the first in name order is the one named, as one thread would.
        let truncated = Data(try IOFixtures.data("images/rgb.png").prefix(100))
        for name in ["13.png", "21.png"] { try truncated.write(to: URL(fileURLWithPath: dir + "/" + name)) }
        let error = assertThrowsBERGError(try StimulusLoader.loadRuns(dir, threads: 4))
        XCTAssertTrue(error?.message.contains("13.png") ?? false, error?.message ?? "")
    }

    func testMissingAndCorruptFilesAreNamed() throws {
        let dir = try folder(["a.png": "images/rgb.png"])
        try "../missing.png\n".write(toFile: dir + "/list.txt", atomically: true, encoding: .utf8)
        let missing = assertThrowsBERGError(try StimulusLoader.load(dir + "/list.txt"))
        XCTAssertTrue(missing?.message.contains("missing.png") ?? false)

        try Data(try IOFixtures.data("images/rgb.png").prefix(100)).write(to: URL(fileURLWithPath: dir + "/b.png"))
        let corrupt = assertThrowsBERGError(try StimulusLoader.load(dir))
        XCTAssertTrue(corrupt?.message.contains("b.png") ?? false, corrupt?.message ?? "")

        assertThrowsBERGError(try StimulusLoader.load(dir + "/nothing-here"))
        let empty = try IOFixtures.scratchFolder(self)
        assertThrowsBERGError(try StimulusLoader.load(empty))
    }
}
