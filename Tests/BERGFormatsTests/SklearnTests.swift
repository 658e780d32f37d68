import XCTest
import BERGCore
@testable import BERGFormats

final class SklearnTests: XCTestCase {
    /// Float32 arithmetic against scikit-learn's float64 result, cast to float32.
    private func assertClose(_ actual: [Float], _ expected: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let e = expected.floats
        XCTAssertEqual(actual.count, e.count, "\(what) count", file: file, line: line)
        for (a, b) in zip(actual, e) where abs(a - b) > 1e-4 * max(1, abs(b)) {
            return XCTFail("\(what): \(a) vs scikit-learn \(b)", file: file, line: line)
        }
    }

    func testPickledEstimatorsPredictLikeScikitLearn() throws {
        let x = try PickleFixtures.expected("sk.x_test")
        let rows = x.shape[0]
        let regressions: [(String, SklearnEstimator.Kind)] = [
            ("ridge", .ridge), ("linear_regression", .linearRegression), ("lasso", .lasso),
            ("multitask_lasso", .multiTaskLasso), ("elastic_net", .elasticNet),
        ]
        for (name, kind) in regressions {
            let estimator = try SklearnEstimator.load(PickleFixtures.path("sk_\(name).pkl"))
            XCTAssertEqual(estimator.kind, kind)
            XCTAssertEqual(estimator.inputWidth, 6)
            assertClose(try estimator.apply(x.floats, rows: rows), try PickleFixtures.expected("sk.\(name).predict"), name)
        }
        guard case .ridge(let ridge) = try SklearnEstimator.load(PickleFixtures.path("sk_ridge.pkl")) else { return XCTFail("ridge") }
        XCTAssertEqual(ridge.alpha, 2.0)
        XCTAssertEqual(ridge.coef.shape, [3, 6])
        guard case .lasso(let lasso) = try SklearnEstimator.load(PickleFixtures.path("sk_lasso.pkl")) else { return XCTFail("lasso") }
        XCTAssertTrue(lasso.singleTarget)

        for (name, kind) in [("pca", SklearnEstimator.Kind.pca), ("pca_whiten", .pca), ("incremental_pca", .incrementalPCA),
                             ("standard_scaler", .standardScaler)] {
            let estimator = try SklearnEstimator.load(PickleFixtures.path("sk_\(name).pkl"))
            XCTAssertEqual(estimator.kind, kind)
            assertClose(try estimator.apply(x.floats, rows: rows), try PickleFixtures.expected("sk.\(name).transform"), name)
        }
    }

    func testBERGDictOfParametersPipeline() throws {
        let path = PickleFixtures.path("berg_param_weights.npy")
        let estimators = try SklearnEstimator.bergWeights(try NPYFile.readObject(path), path: path)
        XCTAssertEqual(Set(estimators.keys), ["scaler_param", "pca_param", "lh_reg_param", "rh_reg_param"])
        let x = try PickleFixtures.expected("sk.x_test")
        let scaled = try XCTUnwrap(estimators["scaler_param"]).apply(x.floats, rows: 4)
        let features = try XCTUnwrap(estimators["pca_param"]).apply(scaled, rows: 4)
        assertClose(features, try PickleFixtures.expected("berg.features"), "scaler + PCA")
        let pcaFeatures = try PickleFixtures.expected("berg.features").floats
        assertClose(try XCTUnwrap(estimators["lh_reg_param"]).apply(pcaFeatures, rows: 4), try PickleFixtures.expected("berg.lh"), "lh")
        assertClose(try XCTUnwrap(estimators["rh_reg_param"]).apply(pcaFeatures, rows: 4), try PickleFixtures.expected("berg.rh"), "rh")
        XCTAssertEqual(estimators["lh_reg_param"]?.outputWidth, 2)
    }

    func testWrongInputsAndClassesFailCleanly() throws {
        let ridge = try SklearnEstimator.load(PickleFixtures.path("sk_ridge.pkl"))
        XCTAssertThrowsError(try ridge.apply([1, 2, 3], rows: 1))
        XCTAssertThrowsError(try SklearnEstimator.load(PickleFixtures.path("os_system_p4.pkl")))
        let namespace = PickleValue.object(PickleObject(module: "argparse", name: "Namespace"))
        XCTAssertThrowsError(try SklearnEstimator(pickled: namespace, path: "x")) { error in
            XCTAssertTrue("\(error)".contains("argparse.Namespace"), "\(error)")
        }
        // A Ridge whose coef_ is an inert object instead of an array.
        let fake = PickleValue.dict([(.string("coef_"), .object(PickleObject(module: "posix", name: "system")))])
        XCTAssertThrowsError(try SklearnEstimator(parameters: fake, kind: .ridge, path: "fake"))
    }
}
