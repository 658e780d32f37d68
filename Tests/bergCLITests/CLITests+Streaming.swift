import BERG
import BERGFormats
import Foundation
import XCTest

/// `berg encode` reads and writes a batch at a time: a bad file far into a folder ends the run
/// naming it and leaving no output, `--skip-unreadable` goes on past it, inputs that are not
/// regular files are refused, and batch jobs get progress lines.
extension CLITests {
    /// `count` small PNGs of one size in a fresh folder, sorted by name.
    func manyImages(_ count: Int, side: Int = 20) throws -> URL {
        let folder = work.appendingPathComponent("many")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<count {
            let rgb = (0..<(side * side * 3)).map { UInt8(($0 * 31 + i * 57) % 256) }
            try ImageCodec.writePNG(rgb: rgb, width: side, height: side, to: folder.appendingPathComponent(String(format: "img-%03d.png", i)).path)
        }
        return folder
    }

    func testACorruptFileFarIntoTheInputEndsTheRunNamingItAndLeavesNoOutput() throws {
        let images = try manyImages(30)
        try Data("\u{89}PNG\r\n\u{1A}\n truncated".utf8).write(to: images.appendingPathComponent("img-020.png"))
        let output = work.appendingPathComponent("out.h5").path, volume = work.appendingPathComponent("v.png").path
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                           "--output", output, "--picture", volume, "--batch-size", "8")
        assertFails(run, status: 1, mentioning: "img-020.png")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work.path).sorted(), ["many"], "no output, no temporary file")

        // Skipping: every other image is encoded, the bad one is NaN and listed.
        let skipped = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                               "--output", output, "--batch-size", "8", "--skip-unreadable", "--metadata")
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("warning") && skipped.stderr.contains("img-020.png"), skipped.stderr)
        let file = try HDF5File(path: output, mode: .read)
        let responses = try file.read("responses")
        XCTAssertEqual(responses.shape, [30, 288])
        let values = responses.floats
        XCTAssertTrue(values[20 * 288 ..< 21 * 288].allSatisfy(\.isNaN), "the unreadable image's row is NaN")
        XCTAssertFalse(values[19 * 288 ..< 20 * 288].contains(where: \.isNaN))
        XCTAssertEqual(try file.readStrings("stimulus_names").count, 30)
        guard case .strings(let listed)? = try file.readMetadata(at: "metadata")["unreadable_stimuli"] else {
            return XCTFail("the unreadable image is listed in the metadata")
        }
        XCTAssertEqual(listed.count, 1)
        XCTAssertTrue(listed[0].hasPrefix("img-020.png"), listed[0])
    }

    func testUnsupportedFormatsArePassedOverOnlyOnPurposeAndStrayFilesAreNamed() throws {
        let images = try manyImages(3)
        try Data("GIF89a".utf8).write(to: images.appendingPathComponent("anim.gif"))
        try Data("notes".utf8).write(to: images.appendingPathComponent("README.txt"))
        let output = work.appendingPathComponent("out.npy").path
        let refused = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path, "--output", output)
        assertFails(refused, status: 1, mentioning: "GIF is not supported; JPEG and PNG are: anim.gif")
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path, "--output", output,
                           "--skip-unreadable")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("anim.gif") && run.stderr.contains("README.txt"), "both are named: \(run.stderr)")
        XCTAssertEqual(try NPYFile.read(output).shape, [3, 288])
    }

    func testInputsThatAreNotRegularFilesAreRefusedWithoutHanging() throws {
        let fifo = work.appendingPathComponent("pipe.png").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for input in [fifo, "/dev/zero"] {
            let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", input,
                               "--output", work.appendingPathComponent("out.npy").path)
            assertFails(run, status: 1, mentioning: "not a regular file or folder")
        }
    }

    func testBatchJobsGetProgressLinesWithTheTimeLeft() throws {
        let images = try manyImages(12)
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                           "--output", work.appendingPathComponent("out.npy").path, "--batch-size", "4",
                           environment: ["BERG_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("berg: ") && $0.contains("images") }
        XCTAssertTrue(lines.contains { $0.contains("4/12") } && lines.contains { $0.contains("12/12") }, run.stderr)
        XCTAssertFalse(run.stderr.contains("\r"), "no bar when stderr is not a terminal")
    }
}
