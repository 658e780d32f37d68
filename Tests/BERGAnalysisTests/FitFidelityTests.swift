import BERGAnalysis
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// `EncodingFit` against scikit-learn's pipelines on the cases of
/// Tools/reference/make_fit_fixtures.py: held-out scores and predictions within 1e-4 relative
/// for linear, ridge and PLS, 1e-3 for lasso and elastic net; RidgeCV's alpha per voxel
/// exactly; the refit on all rows (PCA mean and components, coefficients, intercepts).
final class FitFidelityTests: XCTestCase {
    static let folder = URL(fileURLWithPath: Bundle.module.resourcePath!).appendingPathComponent("Fixtures/fit")

    struct Case {
        var name: String
        var data: String
        var flags: [String]
        var estimator: String

        func value(_ flag: String) -> String? { flags.firstIndex(of: flag).map { flags[$0 + 1] } }

        var settings: EncodingFitSettings {
            var s = EncodingFitSettings(estimator: EncodingFitSettings.Estimator(rawValue: estimator)!)
            s.alpha = value("--alpha").flatMap(Double.init)
            s.alphas = value("--alphas").map { $0.split(separator: ",").map { Double($0)! } }
            s.l1Ratio = value("--l1-ratio").flatMap(Double.init)
            s.components = value("--components").flatMap(Int.init)
            s.pca = value("--pca").flatMap(Int.init)
            s.zscoreFeatures = flags.contains("--zscore-features")
            if let f = value("--val-fraction").flatMap(Double.init) { s.validation = .holdOut(fraction: f) }
            else { s.validation = .kFold(value("--cv").flatMap(Int.init) ?? 5) }
            s.score = value("--score").flatMap(ScoreKind.init(rawValue:)) ?? .correlation
            return s
        }

        /// 1e-4 for the closed-form estimators, 1e-3 for coordinate descent.
        var tolerance: Double { ["lasso", "elasticnet"].contains(estimator) ? 1e-3 : 1e-4 }
    }

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: folder.appendingPathComponent("cases.json"))
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return list.map { Case(name: $0["name"] as! String, data: $0["data"] as! String, flags: $0["flags"] as! [String],
                               estimator: $0["estimator"] as! String) }
    }

    static func array(_ name: String) throws -> Tensor { try NPYFile.read(folder.appendingPathComponent(name + ".npy").path) }
    static func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent(name + ".npy").path) }

    /// max |ours − theirs| / max |theirs| over the finite entries; NaN must sit at the same places.
    static func relativeError(_ ours: [Double], _ theirs: [Double], _ label: String, file: StaticString = #filePath, line: UInt = #line) -> Double {
        XCTAssertEqual(ours.count, theirs.count, label, file: file, line: line)
        var diff = 0.0, scale = 1e-12
        for (a, b) in zip(ours, theirs) {
            if b.isNaN { XCTAssertTrue(a.isNaN, "\(label): NaN expected", file: file, line: line); continue }
            diff = max(diff, abs(a - b)); scale = max(scale, abs(b))
        }
        return diff / scale
    }

    func run(_ c: Case) throws -> EncodingFitResult {
        let x = try PatternMatrix(Self.array("\(c.data).X"), name: "X")
        let y = try ResponseRows(Self.array("\(c.data).Y"), name: "Y")
        return try EncodingFit.run(features: x, responses: y, settings: c.settings)
    }

    func testEveryCaseAgainstScikitLearn() throws {
        var report: [String] = []
        for c in try Self.cases() {
            let clock = Date()
            let result = try run(c)
            print(c.name, Date().timeIntervalSince(clock))
            let scores = Self.relativeError(result.scores, try Self.array("\(c.name).scores").doubles, "\(c.name) scores")
            let predictions = Self.relativeError(result.predictions.map(Double.init), try Self.array("\(c.name).predictions").doubles,
                                                 "\(c.name) predictions")
            XCTAssertLessThanOrEqual(scores, c.tolerance, "\(c.name) scores")
            XCTAssertLessThanOrEqual(predictions, c.tolerance, "\(c.name) predictions")
            let model = result.model
            let coef = Self.relativeError(model.coefficients.map(Double.init), try Self.array("\(c.name).coef").doubles, "\(c.name) coef")
            let intercept = Self.relativeError(model.intercept, try Self.array("\(c.name).intercept").doubles, "\(c.name) intercept")
            XCTAssertLessThanOrEqual(coef, c.tolerance, "\(c.name) refit coef_")
            XCTAssertLessThanOrEqual(intercept, c.tolerance, "\(c.name) refit intercept_")
            if Self.exists("\(c.name).pca_components") {
                let components = Self.relativeError(model.pcaComponents ?? [], try Self.array("\(c.name).pca_components").doubles, "\(c.name) components")
                XCTAssertLessThanOrEqual(components, 1e-4, "\(c.name) PCA components_")
                XCTAssertLessThanOrEqual(Self.relativeError(model.pcaMean ?? [], try Self.array("\(c.name).pca_mean").doubles, "mean"), 1e-6)
            }
            if Self.exists("\(c.name).alphas") {
                XCTAssertEqual(model.alphas, try Self.array("\(c.name).alphas").doubles, "\(c.name) refit alpha per voxel")
                XCTAssertEqual(result.foldAlphas, try Self.array("\(c.name).fold_alphas").doubles, "\(c.name) alpha per voxel and fold")
            }
            report.append(String(format: "%@: scores %.1e, predictions %.1e, coef %.1e", c.name, scores, predictions, coef))
        }
        print(report.joined(separator: "\n"))
    }
}
