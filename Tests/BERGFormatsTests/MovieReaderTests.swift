@testable import BERGFormats
import BERGCore
import Foundation
import XCTest

/// Movie frames against OpenCV's FFmpeg capture driven as img2fmri's `utils.extract_frames`
/// drives it (Tools/reference/make_img2fmri_mni_fixtures.py): a small MPEG-4 movie whose frame
/// n is coloured by n, 75 frames at 24 fps.
final class MovieReaderTests: XCTestCase {
    static var folder: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("movie") }
    static var movie: String { folder.appendingPathComponent("counter.mp4").path }

    func testSamplesTheFramesOpenCVReturnsAtTwoHertz() throws {
        let reference = try NPZFile.read(Self.folder.appendingPathComponent("reference.npz").path)
        let frames = try MovieReader.sample(Self.movie, rate: 2)
        XCTAssertEqual(frames.movieFrameCount, 75)
        XCTAssertEqual(frames.movieFrameRate, 24, accuracy: 1e-9)
        XCTAssertEqual(frames.times, try XCTUnwrap(reference["times"]).doubles)
        XCTAssertEqual(frames.frameIndices, try XCTUnwrap(reference["frame_index"]).int64s.map { Int($0) })
        XCTAssertEqual(frames.frameIndices, [0, 12, 24, 36, 48, 60, 72])

        // OpenCV's frames are [n, H, W, 3] RGB; ours [n, 3, H, W].
        let expected = try XCTUnwrap(reference["frames"])
        let (n, h, w) = (expected.shape[0], expected.shape[1], expected.shape[2])
        XCTAssertEqual([frames.stimulus.count, frames.stimulus.height, frames.stimulus.width], [n, h, w])
        let theirs = expected.int64s, ours = frames.stimulus.pixels
        var worst = 0, differing = 0
        for f in 0..<n { for y in 0..<h { for x in 0..<w { for c in 0..<3 {
            let a = Int(ours[((f * 3 + c) * h + y) * w + x]), b = Int(theirs[((f * h + y) * w + x) * 3 + c])
            worst = max(worst, abs(a - b))
            if a != b { differing += 1 }
        } } } }
        // The same decoder and the same swscale conversion (frame colour matrix): identical pixels.
        XCTAssertEqual(worst, 0, "worst difference \(worst), \(differing) values differ")
    }

    func testOtherRatesAndNames() throws {
        let frames = try MovieReader.sample(Self.movie, rate: 3)
        // t = k/3 while t < 75/24 s: 10 samples, frame round(t × 24).
        XCTAssertEqual(frames.frameIndices, (0..<10).map { Int(Double($0) / 3 * 24 + 0.5) })
        XCTAssertEqual(frames.stimulus.names.first, "frame-0000")
        XCTAssertTrue(MovieReader.isMovie("clip.MP4"))
        XCTAssertFalse(MovieReader.isMovie("images/"))
    }

    func testBadMoviesAreClearErrors() throws {
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).mp4")
        defer { try? FileManager.default.removeItem(at: bad) }
        try Data("not a movie at all".utf8).write(to: bad)
        XCTAssertThrowsError(try MovieReader.sample(bad.path, rate: 2)) { error in
            XCTAssertTrue("\(error)".contains("FFmpeg"), "\(error)")
        }
        // A truncated movie: the frames before the cut, or a clear error, never a crash.
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.movie))
        try data.prefix(data.count / 2).write(to: bad)
        do {
            let frames = try MovieReader.sample(bad.path, rate: 2)
            XCTAssertLessThanOrEqual(frames.stimulus.count, 7)
        } catch {
            XCTAssertTrue(error is BERGError, "\(error)")
        }
        XCTAssertThrowsError(try MovieReader.sample(Self.movie, rate: 0))
        XCTAssertThrowsError(try MovieReader.sample("/nonexistent/movie.mp4", rate: 2)) { error in
            guard case BERGError.fileNotFound = error else { return XCTFail("\(error)") }
        }
    }
}
