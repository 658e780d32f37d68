import BERG
import Foundation
import XCTest

/// What loading changed is said through the library, not printed by it: a stimulus's warnings
/// reach the result's, in order, once each, whatever the batching.
final class WarningsTests: XCTestCase {
    func testStimulusWarningsReachTheResult() throws {
        let berg = try BERG()
        let model = try berg.getEncodingModel("fmri-kay2013-css_prf", subject: 1, selection: ["roi": "V1"])
        var first = try Stimulus(images: [UInt8](repeating: 128, count: 3 * 3 * 32 * 32), count: 3, height: 32, width: 32)
        first.warnings = ["a.png: transparency dropped"]
        var second = try Stimulus(images: [UInt8](repeating: 200, count: 3 * 16 * 16), count: 1, height: 16, width: 16)
        second.warnings = ["b.png: transparency dropped"]
        let result = try berg.encode(model, [first, second], batchSize: 2)
        XCTAssertEqual(result.warnings, ["a.png: transparency dropped", "b.png: transparency dropped"])
        XCTAssertEqual(try berg.encode(model, first.batch(0..<1)).warnings, [], "a batch of a stimulus does not repeat its warnings")
    }

    /// Loading a transparent PNG through the facade gives the warning (the CLI prints it).
    func testLoadingATransparentImageWarns() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("BERGFormatsTests/Fixtures/io/images/rgba.png").path
        let runs = try BERG().loadStimuli(path)
        XCTAssertEqual(runs.flatMap(\.warnings).count, 1)
        XCTAssertTrue(runs[0].warnings[0].contains("rgba.png"), runs[0].warnings[0])
    }
}
