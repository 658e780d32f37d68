import BERG
import Foundation
import XCTest

/// `berg features` and `berg fit` as a Swift user calls them, with `import BERG` alone.
final class FitFacadeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let features = root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/features")
    static let fit = root.appendingPathComponent("Tests/BERGAnalysisTests/Fixtures/fit")

    func testFeaturesThenFitThroughTheFacade() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("berg-fit-facade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let berg = try BERG()

        let acts = work.appendingPathComponent("acts.h5").path
        let written = try berg.run(FeaturesJob(network: "resnet18", weights: Self.features.appendingPathComponent("resnet18-tiny.pth").path,
                                               layers: ["layer4", "avgpool"], input: Self.features.appendingPathComponent("stimuli.npy").path,
                                               output: acts))
        XCTAssertEqual(written.shapes.map(\.layer), ["layer4", "avgpool"])
        XCTAssertEqual(written.shapes.map(\.shape), [[2, 16, 7, 7], [2, 16, 1, 1]])
        XCTAssertEqual(written.stimulusNames, ["stimuli[0]", "stimuli[1]"])

        let settings = EncodingFitSettings(estimator: .ridge, alphas: [1, 10, 100], pca: 10, validation: .kFold(4))
        let summary = try berg.run(FitJob(features: Self.fit.appendingPathComponent("A.acts.h5").path, layers: ["features.12"],
                                          responses: Self.fit.appendingPathComponent("A.Y.npy").path, settings: settings,
                                          outputDirectory: work.appendingPathComponent("out").path))
        XCTAssertEqual(summary.voxels, 40)
        XCTAssertEqual(summary.result.folds, 4)
        XCTAssertTrue(summary.median.isFinite)
        XCTAssertEqual(summary.result.model.alphas?.count, 40)
        XCTAssertTrue(summary.files.contains("accuracy.png"))

        // The same fit in memory.
        let x = try PatternMatrix(Tensor(shape: [120, 300], floats: (0..<36_000).map { Float(($0 * 7919) % 1000) / 1000 }), name: "X")
        let y = try ResponseRows(Tensor(shape: [120, 3], floats: (0..<360).map { Float(($0 * 104_729) % 997) / 997 }), name: "Y")
        let result = try EncodingFit.run(features: x, responses: y, settings: EncodingFitSettings(estimator: .linear, pca: 5))
        XCTAssertEqual(result.scores.count, 3 * 5)
        XCTAssertEqual(result.predictions.count, 120 * 3)
        XCTAssertThrowsError(try EncodingFit.run(features: x, responses: y, settings: EncodingFitSettings(estimator: .lasso, alphas: [1])))
    }
}
