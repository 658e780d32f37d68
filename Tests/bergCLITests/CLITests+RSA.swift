import BERG
import BERGFormats
import Foundation
import XCTest

/// `berg rsa rdm` and `berg rsa compare` end to end, on the fixtures of
/// Tools/reference/make_rsa_fixtures.py (rsatoolbox 0.3.2 made the expected numbers).
extension CLITests {
    func rsaFixture(_ name: String) -> String {
        CLITests.root.appendingPathComponent("Tests/BERGAnalysisTests/Fixtures/rsa/\(name)").path
    }
    func rsaOutput(_ name: String) -> String { work.appendingPathComponent(name).path }

    func testRSARDMOfFeatureLayersInEitherArgumentOrder() throws {
        let first = try berg("rsa", "rdm", rsaFixture("features.h5"), "--layer", "features.3", "--layer", "classifier.1",
                             "--metric", "correlation", "--output", rsaOutput("a.h5"))
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try berg("rsa", "rdm", "--layer", "features.3", "classifier.1", rsaFixture("features.h5"),
                              "--metric", "correlation", "--output", rsaOutput("b.h5"))
        XCTAssertEqual(second.status, 0, second.stderr)
        for path in [rsaOutput("a.h5"), rsaOutput("b.h5")] {
            let set = try BERG.readRDMs(path)
            XCTAssertEqual(set.names, ["features.3", "classifier.1"])
            XCTAssertEqual(set.measure, RDMMeasure(.correlation))
            XCTAssertEqual(set.stimulusNames.first, "img_00.png")
        }
        let all = try berg("rsa", "rdm", rsaFixture("features.h5"), "--metric", "cosine", "--output", rsaOutput("all.h5"))
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try BERG.readRDMs(rsaOutput("all.h5")).names, ["features.0", "features.3", "classifier.1"])
    }

    func testRSARDMToNPYIsTheSquareMatrix() throws {
        let run = try berg("rsa", "rdm", rsaFixture("patterns.npy"), "--metric", "sqeuclidean", "--per-unit", "--output", rsaOutput("p.npy"))
        XCTAssertEqual(run.status, 0, run.stderr)
        let square = try NPYFile.read(rsaOutput("p.npy"))
        XCTAssertEqual(square.shape, [12, 12])
        XCTAssertEqual(square.dtype, .float64)
        // rsatoolbox's 'euclidean' is our sqeuclidean --per-unit.
        let expected = try NPYFile.read(rsaFixture("patterns.rsatoolbox_euclidean.npy")).doubles
        let rdm = try RDM(name: "p", square: square)
        for (a, b) in zip(rdm.dissimilarities, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * abs(b)) }
    }

    func testRSAUsageErrors() throws {
        assertFails(try berg("rsa", "rdm", rsaFixture("features.h5"), "--layer", "features.12", "--metric", "correlation", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "features.0, features.3, classifier.1")
        assertFails(try berg("rsa", "rdm", rsaFixture("features.h5"), "--metric", "correlation", "--output", rsaOutput("x.npy")),
                    status: 2, mentioning: "holds one RDM, and there are 3 (features.0, features.3, classifier.1); pick one layer or output, or write .h5. Choose it with --layer NAME")
        assertFails(try berg("rsa", "rdm", rsaFixture("bold.nii.gz"), "--metric", "correlation", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "--mask")
        assertFails(try berg("rsa", "rdm", rsaFixture("patterns.npy"), "--mask", rsaFixture("mask.nii.gz"), "--metric", "correlation", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "--mask")
        assertFails(try berg("rsa", "rdm", rsaFixture("patterns.npy"), "--metric", "correlation", "--per-unit", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "--per-unit")
        assertFails(try berg("rsa", "rdm", rsaFixture("patterns.npy"), "--metric", "manhattan", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "manhattan")
        assertFails(try berg("rsa", "rdm", rsaFixture("features.h5"), "--pca", "50", "--metric", "correlation", "--output", rsaOutput("x.h5")),
                    status: 2, mentioning: "1 to 12")
        assertFails(try berg("rsa", "compare", rsaFixture("compare_continuous_a.square.npy"), rsaFixture("compare_ties_a.square.npy")),
                    status: 1, mentioning: "20 (compare_continuous_a.square) against 40")
        // Nothing was left behind by the failures, not even a temporary file.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work.path), [])
    }

    func testRSAHelpSaysWhatRsatoolboxCallsEuclidean() throws {
        let help = try berg("rsa", "rdm", "--help")
        XCTAssertEqual(help.status, 0)
        let text = help.stdout.replacingOccurrences(of: "\n", with: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(text.contains("rsatoolbox's method 'euclidean' is in fact Σ(a−b)²/P, which is our `sqeuclidean --per-unit`"), help.stdout)
    }

    func testRSACompareLinesAgainstRsatoolbox() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: rsaFixture("compare.json")))) as! [String: [String: Double]]
        let names = ["pearson": "corr", "spearman": "spearman", "kendall-tau-a": "tau-a", "cosine": "cosine"]
        for testCase in ["continuous", "ties"] {
            for (method, reference) in names {
                let run = try berg("rsa", "compare", rsaFixture("compare_\(testCase)_a.square.npy"), rsaFixture("compare_\(testCase)_b.square.npy"), "--method", method)
                XCTAssertEqual(run.status, 0, run.stderr)
                let value = String(format: "%.6f", expected[testCase]![reference]!)
                XCTAssertEqual(run.stdout, "A:compare_\(testCase)_a.square  B:compare_\(testCase)_b.square  \(method) \(value)\n")
            }
        }
    }

    /// DNNBrain's walkthrough in miniature: layer RDMs after PCA, a response RDM, one line per layer.
    func testRSAWalkthroughGivesALinePerLayer() throws {
        XCTAssertEqual(try berg("rsa", "rdm", rsaFixture("features.h5"), "--pca", "5", "--metric", "correlation", "--output", rsaOutput("layers.h5")).status, 0)
        XCTAssertEqual(try berg("rsa", "rdm", rsaFixture("responses.h5"), "--metric", "correlation", "--output", rsaOutput("roi.h5")).status, 0)
        let run = try berg("rsa", "compare", rsaOutput("layers.h5"), rsaOutput("roi.h5"), "--method", "spearman")
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.map { $0.split(separator: " ").first! }, ["A:features.0", "A:features.3", "A:classifier.1"])
        for line in lines {
            XCTAssertNotNil(line.range(of: #"^A:\S+  B:responses  spearman -?[0-9]\.[0-9]{6}$"#, options: .regularExpression), String(line))
        }
        XCTAssertEqual(try BERG.readRDMs(rsaOutput("layers.h5")).pcaComponents, 5)
    }

    func testRSAJSONWithPermutationsAndBootstrapIsReproducible() throws {
        XCTAssertEqual(try berg("rsa", "rdm", rsaFixture("hemispheres.h5"), "--metric", "euclidean", "--output", rsaOutput("h.h5")).status, 0)
        XCTAssertEqual(try berg("rsa", "rdm", rsaFixture("responses.h5"), "--metric", "correlation", "--output", rsaOutput("r.h5")).status, 0)
        func compare(_ seed: String) throws -> CLITests.Run {
            try berg("rsa", "compare", rsaOutput("h.h5"), rsaOutput("r.h5"), "--method", "kendall-tau-a",
                     "--permutations", "99", "--bootstrap", "50", "--seed", seed, "--json")
        }
        let run = try compare("7")
        XCTAssertEqual(run.status, 0, run.stderr)
        let results = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(results.count, 2)
        for result in results {
            XCTAssertEqual(Set(result.keys), ["a", "b", "method", "value", "p", "se", "ci"])
            XCTAssertEqual(result["method"] as? String, "kendall-tau-a")
            XCTAssertEqual(result["b"] as? String, "responses")
            let p = result["p"] as! Double, ci = result["ci"] as! [Double]
            XCTAssertTrue(p > 0 && p <= 1)
            XCTAssertEqual((p * 100).rounded(), p * 100, accuracy: 1e-9, "p is a count over 100")
            XCTAssertEqual(ci.count, 2)
            XCTAssertLessThan(ci[0], ci[1])
        }
        XCTAssertEqual(results.map { $0["a"] as! String }, ["lh", "rh"])
        XCTAssertEqual(try compare("7").stdout, run.stdout, "the same seed gives the same numbers")
        XCTAssertNotEqual(try compare("8").stdout, run.stdout)
        let plain = try berg("rsa", "compare", rsaOutput("h.h5"), rsaOutput("r.h5"), "--json")
        let keys = (try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as! [[String: Any]]).map { Set($0.keys) }
        XCTAssertEqual(keys, [["a", "b", "method", "value"], ["a", "b", "method", "value"]])
    }

    func testRSAMaskedNIfTI() throws {
        let run = try berg("rsa", "rdm", rsaFixture("bold.nii.gz"), "--mask", rsaFixture("mask.nii.gz"), "--metric", "correlation", "--output", rsaOutput("bold.h5"))
        XCTAssertEqual(run.status, 0, run.stderr)
        let rdm = try BERG.readRDMs(rsaOutput("bold.h5")).rdms[0]
        XCTAssertEqual(rdm.name, "bold")
        let expected = try NPYFile.read(rsaFixture("bold.rsatoolbox_correlation.npy")).doubles
        for (a, b) in zip(rdm.dissimilarities, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }

    func testRSAPictureWithLabels() throws {
        let labels = rsaOutput("labels.csv")
        let rows = (0..<12).map { String(format: "img_%02d.png,%@", $0, ["face", "body", "house"][$0 % 3]) }
        try (["stimulus,category"] + rows).joined(separator: "\n").write(toFile: labels, atomically: true, encoding: .utf8)
        let run = try berg("rsa", "rdm", rsaFixture("features.h5"), "--metric", "correlation", "--output", rsaOutput("f.h5"),
                           "--picture", rsaOutput("f.png"), "--labels", labels)
        XCTAssertEqual(run.status, 0, run.stderr)
        let png = try ImageCodec.decode(rsaOutput("f.png"))
        XCTAssertGreaterThan(png.width, 3 * 320, "three panels side by side")
        assertFails(try berg("rsa", "rdm", rsaFixture("features.h5"), "--metric", "correlation", "--output", rsaOutput("g.h5"), "--labels", labels),
                    status: 2, mentioning: "--picture")
        // Labels that do not fit: nothing is written.
        let short = rsaOutput("short.csv")
        try "category\nface\nbody\n".write(toFile: short, atomically: true, encoding: .utf8)
        XCTAssertEqual(try berg("rsa", "rdm", rsaFixture("patterns.npy"), "--metric", "correlation", "--output", rsaOutput("p.h5"),
                                "--picture", rsaOutput("p.png"), "--labels", short).status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: rsaOutput("p.h5")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: rsaOutput("p.png")))
    }
}
