import BERGAnalysis
import BERGCore
import BERGFormats
import XCTest

/// RDMs against rsatoolbox 0.3.2 (`calc_rdm`) and SciPy (`pdist`) on the fixtures. The issue's
/// contract is 1e-6 relative; everything runs in float64, so the tests ask for 1e-10.
final class RDMFidelityTests: XCTestCase {
    let tolerance = 1e-10

    func testPatternsAgainstRsatoolboxAndScipy() throws {
        for name in ["patterns", "offset_patterns"] {
            let patterns = try RSAFixtures.array("\(name).npy")
            let cases: [(RDMMeasure, String)] = [
                (RDMMeasure(.correlation), "rsatoolbox_correlation"),
                // rsatoolbox's 'euclidean' is Σ(a−b)²/P: our sqeuclidean per unit.
                (RDMMeasure(.sqeuclidean, perUnit: true), "rsatoolbox_euclidean"),
                (RDMMeasure(.euclidean), "scipy_euclidean"),
                (RDMMeasure(.sqeuclidean), "scipy_sqeuclidean"),
                (RDMMeasure(.cosine), "scipy_cosine"),
            ]
            for (measure, reference) in cases {
                let rdm = try RDM(name: name, patterns: patterns, measure: measure)
                assertRelativelyClose(rdm.dissimilarities, try RSAFixtures.array("\(name).\(reference).npy").doubles,
                                      tolerance, "\(name) \(measure) against \(reference)")
            }
        }
    }

    func testEuclideanPerUnitDividesByUnits() throws {
        let patterns = try RSAFixtures.array("patterns.npy")
        let plain = try RDM(name: "p", patterns: patterns, measure: RDMMeasure(.euclidean)).dissimilarities
        let perUnit = try RDM(name: "p", patterns: patterns, measure: RDMMeasure(.euclidean, perUnit: true)).dissimilarities
        assertRelativelyClose(perUnit, plain.map { $0 / 30 }, tolerance, "euclidean per unit")
    }

    func testFloat32PatternsAreWidenedNotRounded() throws {
        // The features fixture holds float32 layers; rsatoolbox ran on the same values as float64.
        let input = try RDMInput(path: RSAFixtures.path("features.h5"))
        XCTAssertEqual(input.names, ["features.0", "features.3", "classifier.1"], "layers in the file's order")
        XCTAssertEqual(input.stimulusNames, (0..<12).map { String(format: "img_%02d.png", $0) })
        let set = try RDMSet(input: input, measure: RDMMeasure(.correlation))
        for rdm in set.rdms {
            assertRelativelyClose(rdm.dissimilarities, try RSAFixtures.array("features.\(rdm.name).rsatoolbox_correlation.npy").doubles,
                                  tolerance, "layer \(rdm.name)")
        }
    }

    func testLayerSelectionKeepsTheGivenOrderAndRejectsUnknownLayers() throws {
        let input = try RDMInput(path: RSAFixtures.path("features.h5"), layers: ["classifier.1", "features.0"])
        XCTAssertEqual(input.names, ["classifier.1", "features.0"])
        XCTAssertThrowsError(try RDMInput(path: RSAFixtures.path("features.h5"), layers: ["features.12"])) { error in
            guard let error = error as? BERGError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isUsageError)
            XCTAssertTrue(error.message.contains("features.12") && error.message.contains("features.0, features.3, classifier.1"), error.message)
        }
    }

    func testEncodeFiles() throws {
        let single = try RDMSet(input: try RDMInput(path: RSAFixtures.path("responses.h5")), measure: RDMMeasure(.correlation))
        XCTAssertEqual(single.names, ["responses"])
        assertRelativelyClose(single.rdms[0].dissimilarities,
                              try RSAFixtures.array("responses.responses.rsatoolbox_correlation.npy").doubles, tolerance, "responses")
        let hemispheres = try RDMSet(input: try RDMInput(path: RSAFixtures.path("hemispheres.h5")), measure: RDMMeasure(.correlation))
        XCTAssertEqual(hemispheres.names, ["lh", "rh"])
        for rdm in hemispheres.rdms {
            assertRelativelyClose(rdm.dissimilarities, try RSAFixtures.array("hemispheres.\(rdm.name).rsatoolbox_correlation.npy").doubles,
                                  tolerance, rdm.name)
        }
    }

    func testMaskedNIfTIWithScaling() throws {
        let input = try RDMInput(path: RSAFixtures.path("bold.nii.gz"), mask: RSAFixtures.path("mask.nii.gz"))
        XCTAssertEqual(input.names, ["bold"])
        let set = try RDMSet(input: input, measure: RDMMeasure(.correlation))
        assertRelativelyClose(set.rdms[0].dissimilarities, try RSAFixtures.array("bold.rsatoolbox_correlation.npy").doubles,
                              tolerance, "bold[mask > 0].T")
        XCTAssertThrowsError(try RDMInput(path: RSAFixtures.path("bold.nii.gz"))) { error in
            XCTAssertTrue((error as? BERGError)?.isUsageError == true, "\(error)")
        }
    }

    func testPCAThenRDM() throws {
        let input = try RDMInput(path: RSAFixtures.path("pca_wide.npy"))
        let set = try RDMSet(input: input, measure: RDMMeasure(.correlation), pcaComponents: 5)
        XCTAssertEqual(set.pcaComponents, 5)
        assertRelativelyClose(set.rdms[0].dissimilarities, try RSAFixtures.array("pca_wide.rsatoolbox_correlation.npy").doubles,
                              1e-9, "RDM of PCA(5) scores")
    }

    func testBadPatternsAreClearErrors() throws {
        var values = [Float](repeating: 1, count: 12)
        values[7] = .nan
        XCTAssertThrowsError(try RDM(name: "x", patterns: try Tensor(shape: [3, 4], floats: values), measure: RDMMeasure(.cosine))) { error in
            XCTAssertTrue("\(error)".contains("stimulus 1, unit 3"), "\(error)")
        }
        XCTAssertThrowsError(try RDM(name: "x", patterns: try Tensor(shape: [1, 4], floats: [1, 2, 3, 4]), measure: RDMMeasure(.cosine)))
        XCTAssertThrowsError(try RDMInput(path: RSAFixtures.path("compare.json")))
    }

    func testCondensedIndexingAndSquareForm() throws {
        let rdm = try RDM(name: "r", stimulusCount: 4, dissimilarities: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(rdm[0, 3], 3)
        XCTAssertEqual(rdm[3, 1], 5)
        XCTAssertEqual(rdm[2, 2], 0)
        XCTAssertEqual(try RDM(name: "r", square: rdm.square), rdm)
        XCTAssertEqual(RDM.stimulusCount(pairs: 6), 4)
        XCTAssertNil(RDM.stimulusCount(pairs: 7))
        // reordered(order): entry (i, j) is the old entry (order[i], order[j]).
        let moved = try rdm.reordered([3, 2, 1, 0])
        XCTAssertEqual(moved[0, 1], rdm[3, 2])
        XCTAssertEqual(moved[1, 3], rdm[2, 0])
    }
}
