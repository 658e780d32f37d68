@testable import BERG
import BERGFormats
import Foundation
import XCTest

/// The check file `berg publish` writes and `berg verify` reads, the error measure, and the
/// procedural test images.
final class CheckResponsesTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("berg-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func testRoundTripOfStimuliOfTwoSizesAndSeveralChecks() throws {
        let small = try Stimulus(images: (0..<(2 * 3 * 4 * 4)).map { UInt8($0 % 251) }, count: 2, height: 4, width: 4, names: ["a", "b"])
        let large = try Stimulus(images: (0..<(3 * 6 * 5)).map { UInt8(($0 * 7) % 256) }, count: 1, height: 6, width: 5, names: ["c"])
        let check = CheckResponses(modelID: "lab-x", version: "2.1", stimuli: [small, large], checks: [
            .init(subject: 1, selection: ["roi": "V1"], responses: ["responses": try Tensor(shape: [3, 2], floats: [1, 2, 3, 4, 5, 6])]),
            .init(subject: 2, selection: [:], responses: ["lh": try Tensor(shape: [3, 1], floats: [7, 8, 9]),
                                                         "rh": try Tensor(shape: [3, 1], floats: [.nan, 0, -1])]),
        ])
        let path = work.appendingPathComponent("check.h5").path
        try check.write(to: path)
        let read = try CheckResponses.read(path)
        XCTAssertEqual(read.modelID, "lab-x")
        XCTAssertEqual(read.version, "2.1")
        XCTAssertEqual(read.stimulusNames, ["a", "b", "c"])
        XCTAssertEqual(read.stimuli.map(\.pixels), [small.pixels, large.pixels])
        XCTAssertEqual(read.stimulusSHA256, check.stimulusSHA256)
        XCTAssertEqual(read.checks.map(\.label), ["subject 1, roi=V1", "subject 2"])
        XCTAssertEqual(read.checks[1].responses["lh"]?.floats, [7, 8, 9])
        XCTAssertEqual(read.checks[1].responses["rh"]?.floats[1...], [0, -1])

        // The same content gives the same bytes.
        let again = work.appendingPathComponent("again.h5").path
        try check.write(to: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: again)))

        // A stimulus whose bytes no longer match their recorded SHA-256 is refused.
        let file = try HDF5File(path: again, mode: .readWrite)
        try file.write(try Tensor(shape: [1, 3, 6, 5], bytes: [UInt8](repeating: 9, count: 90)), at: "stimuli/001")
        try file.close()
        XCTAssertThrowsError(try CheckResponses.read(again)) { error in
            XCTAssertTrue("\(error)".contains("stimulus 'c'"), "\(error)")
        }
    }

    func testErrorIsRelativeToTheLargestRecordedMagnitudeOfTheOutput() {
        let recorded: [Float] = [0, 10, -20, .nan]
        XCTAssertEqual(BERG.largestRelativeError(recorded, recorded).0, 0)
        let (error, index) = BERG.largestRelativeError([0.002, 10, -20, .nan], recorded)
        XCTAssertEqual(error, 0.002 / 20, accuracy: 1e-9)
        XCTAssertEqual(index, 0)
        XCTAssertEqual(BERG.largestRelativeError([0, 10, -20, 1], recorded).0, .infinity)
        XCTAssertEqual(BERG.largestRelativeError([1e-7], [0]).0, 1e-7, accuracy: 1e-12, "all zeros recorded: absolute")
    }

    func testTestImagesAreDistinctAndTheSameEveryTime() throws {
        let images = TestImages.make(size: 48)
        XCTAssertEqual(images.count, 16)
        XCTAssertEqual(images.map(\.name), images.map(\.name).sorted())
        XCTAssertEqual(Set(images.map(\.rgb)).count, 16, "no two images alike")
        XCTAssertEqual(images.map(\.rgb), TestImages.make(size: 48).map(\.rgb))
        XCTAssertTrue(images.first { $0.name == "pattern-blank" }!.rgb.allSatisfy { $0 == 128 })
        let noise = images.first { $0.name == "pattern-noise-white" }!.rgb
        XCTAssertEqual(noise.min(), 0)
        XCTAssertEqual(noise.max(), 255)
        let check = try BERG.checkStimuli(size: 40)
        XCTAssertEqual(check.count, 48)
        XCTAssertEqual(check.names, check.names.sorted())
        let folder = work.appendingPathComponent("check")
        XCTAssertEqual(try BERG.writeCheckStimuli(to: folder.path, size: 40), 48)
        XCTAssertEqual(try BERG().loadStimulus(folder.path).pixels, check.pixels, "the files are the stimuli publish encodes")
    }
}
