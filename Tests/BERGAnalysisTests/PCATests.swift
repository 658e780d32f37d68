import BERGAnalysis
import BERGCore
import XCTest

/// `PCA` against scikit-learn 1.9's `PCA(n_components=K, svd_solver='full')`, for fewer samples
/// than features (the Gram path) and more (the covariance path), signs included.
final class PCATests: XCTestCase {
    func testAgainstScikitLearn() throws {
        for (name, k) in [("pca_wide", 5), ("pca_tall", 3)] {
            let x = try RSAFixtures.array("\(name).npy")
            var pca = PCA(componentCount: k)
            let scores = try pca.fitTransform(x)
            XCTAssertEqual(scores.shape, [x.shape[0], k])
            assertRelativelyClose(scores.doubles, try RSAFixtures.array("\(name).scores.npy").doubles, 1e-9, "\(name) scores")
            assertRelativelyClose(pca.components, try RSAFixtures.array("\(name).components.npy").doubles, 1e-9, "\(name) components_")
            assertRelativelyClose(pca.mean, try RSAFixtures.array("\(name).mean.npy").doubles, 1e-12, "\(name) mean_")
            assertRelativelyClose(pca.explainedVariance, try RSAFixtures.array("\(name).explained_variance.npy").doubles, 1e-9, "\(name) explained_variance_")
            assertRelativelyClose(pca.singularValues, try RSAFixtures.array("\(name).singular_values.npy").doubles, 1e-9, "\(name) singular_values_")
            // transform of the training data gives the same scores as fit_transform.
            assertRelativelyClose(try pca.transform(x).doubles, scores.doubles, 1e-9, "\(name) transform")
        }
    }

    func testTooManyComponentsIsAUsageError() throws {
        var pca = PCA(componentCount: 16)
        XCTAssertThrowsError(try pca.fit(try RSAFixtures.array("pca_wide.npy"))) { error in
            guard let error = error as? BERGError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isUsageError)
            XCTAssertTrue(error.message.contains("1 to 15"), error.message)
        }
        XCTAssertThrowsError(try PCA(componentCount: 2).transform(try RSAFixtures.array("pca_wide.npy")))
    }
}
