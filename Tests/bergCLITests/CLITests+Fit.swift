import BERG
import BERGFormats
import BERGRegistry
import Foundation
import XCTest

/// `berg fit` end to end against scikit-learn (Tools/reference/make_fit_fixtures.py) through its
/// files, its model package, and its usage errors.
extension CLITests {
    static var fitFixtures: URL { root.appendingPathComponent("Tests/BERGAnalysisTests/Fixtures/fit") }

    static func fixture(_ name: String) -> String { fitFixtures.appendingPathComponent(name).path }

    /// max |ours − theirs| / max |theirs| over finite entries; NaN in the same places.
    func relative(_ ours: Tensor, _ theirs: Tensor, _ label: String) -> Double {
        XCTAssertEqual(ours.count, theirs.count, label)
        var diff = 0.0, scale = 1e-12
        for (a, b) in zip(ours.doubles, theirs.doubles) {
            if b.isNaN { XCTAssertTrue(a.isNaN, "\(label): NaN expected"); continue }
            diff = max(diff, abs(a - b)); scale = max(scale, abs(b))
        }
        return diff / scale
    }

    func fit(_ arguments: [String], output: URL) throws -> Run {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = ["fit"] + arguments + ["--output-dir", output.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: "", stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// The img2brain pipeline from a features .h5 and an .h5 response dataset; RidgeCV from
    /// .npy files; the DNNBrain PCA + linear pipeline from a masked 4-D NIfTI.
    func testFitWritesScikitLearnsNumbers() throws {
        let lasso = work.appendingPathComponent("lasso")
        let run = try fit(["--features", Self.fixture("A.acts.h5"), "--layer", "features.12", "--responses", Self.fixture("A.Y.h5") + ":betas/all",
                           "--pca", "30", "--estimator", "lasso", "--alpha", "0.01", "--val-fraction", "0.2", "--threads", "1"], output: lasso)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("fold 1/1"), "progress per fold: \(run.stderr)")
        let scores = try NPYFile.read(lasso.appendingPathComponent("scores.npy").path)
        XCTAssertEqual(scores.shape, [40, 1])
        XCTAssertEqual(scores.dtype, .float32)
        XCTAssertLessThanOrEqual(relative(scores, try NPYFile.read(Self.fixture("pca_lasso_A.scores.npy")), "lasso scores"), 1e-3)
        let predictions = try NPYFile.read(lasso.appendingPathComponent("predictions.npy").path)
        XCTAssertEqual(predictions.shape, [24, 40], "the validation rows only")
        XCTAssertLessThanOrEqual(relative(predictions, try NPYFile.read(Self.fixture("pca_lasso_A.predictions.npy")), "lasso predictions"), 1e-3)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: lasso.appendingPathComponent("summary.json"))) as? [String: Any])
        let expected = scores.doubles.filter(\.isFinite).sorted()
        XCTAssertEqual(expected.count, 39, "voxel 7 is constant: no correlation")
        XCTAssertEqual(try XCTUnwrap(summary["median"] as? Double), expected[19], accuracy: 1e-6)
        XCTAssertEqual(summary["voxels"] as? Int, 40)
        XCTAssertNotNil(summary["p90"] as? Double)
        XCTAssertEqual((summary["settings"] as? [String: Any])?["estimator"] as? String, "lasso")
        XCTAssertFalse(FileManager.default.fileExists(atPath: lasso.appendingPathComponent("alphas.npy").path))
        let picture = try ImageCodec.decode(lasso.appendingPathComponent("accuracy.png").path)
        XCTAssertEqual(picture.width, 640, "accuracy.png: the histogram of voxel scores")
        let weights = try NPZFile.read(lasso.appendingPathComponent("model/weights.npz").path)
        XCTAssertEqual(weights["coef"]?.shape, [40, 30])
        XCTAssertEqual(weights["pca_components"]?.shape, [30, 300])
        XCTAssertLessThanOrEqual(relative(weights["coef"]!, try NPYFile.read(Self.fixture("pca_lasso_A.coef.npy")), "refit coef"), 1e-3)

        let ridge = work.appendingPathComponent("ridge")
        let ridgeRun = try fit(["--features", Self.fixture("C.X.npy"), "--responses", Self.fixture("C.Y.npy"), "--estimator", "ridge",
                                "--alphas", "0.01,0.1,1,10,100,1000,10000,100000", "--val-fraction", "0.2"], output: ridge)
        XCTAssertEqual(ridgeRun.status, 0, ridgeRun.stderr)
        XCTAssertEqual(try NPYFile.read(ridge.appendingPathComponent("alphas.npy").path).doubles,
                       try NPYFile.read(Self.fixture("ridgecv_C.alphas.npy")).doubles, "the same alpha per voxel")
        XCTAssertLessThanOrEqual(relative(try NPYFile.read(ridge.appendingPathComponent("scores.npy").path),
                                          try NPYFile.read(Self.fixture("ridgecv_C.scores.npy")), "ridge scores"), 1e-4)
        XCTAssertTrue(ridgeRun.stderr.contains("no manifest.yaml"), ridgeRun.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ridge.appendingPathComponent("model/manifest.yaml").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ridge.appendingPathComponent("model/weights.npz").path))

        let volume = work.appendingPathComponent("volume")
        let volumeRun = try fit(["--features", Self.fixture("A.X.npy"), "--responses", Self.fixture("A.Y.nii.gz"), "--mask", Self.fixture("A.mask.nii.gz"),
                                 "--pca", "20", "--estimator", "linear", "--cv", "5"], output: volume)
        XCTAssertEqual(volumeRun.status, 0, volumeRun.stderr)
        let expectedScores = try NPYFile.read(Self.fixture("pca_linear_A.scores.npy"))
        XCTAssertLessThanOrEqual(relative(try NPYFile.read(volume.appendingPathComponent("scores.npy").path), expectedScores, "NIfTI scores"), 1e-4)
        let map = try NIfTIFile.read(volume.appendingPathComponent("scores.nii.gz").path)
        let mask = try NIfTIFile.read(Self.fixture("A.mask.nii.gz"))
        XCTAssertEqual(map.shape, [5, 6, 4])
        XCTAssertEqual(map.affine, mask.affine)
        let inside = try NIfTIFile.select(map.data(), mask: mask.data()).doubles
        let means = (0..<40).map { v in (0..<5).reduce(0.0) { $0 + expectedScores.doubles[v * 5 + $1] } / 5 }
        for (a, b) in zip(inside, means) where b.isFinite { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(map.raw.floats.filter(\.isNaN).count, 120 - 40 + 1, "NaN outside the mask and for the constant voxel")
    }

    /// berg features (tiny AlexNet, random images) → berg fit (PCA 5 + Ridge) → the package;
    /// returns its folder, the images, and what its arrays predict for them.
    func makeModelPackage() throws -> (model: URL, stimuli: URL, packaged: [Double], responses: Tensor, weights: String) {
        var generator = SystemRandomNumberGenerator()
        let count = 24
        let pixels = (0..<(count * 3 * 40 * 48)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let stimuli = work.appendingPathComponent("stimuli.npy")
        try NPYFile.write(try Tensor(shape: [count, 3, 40, 48], bytes: pixels), to: stimuli.path)
        let acts = work.appendingPathComponent("acts.h5")
        let weights = Self.featureFixtures.appendingPathComponent("alexnet-tiny.pth").path
        XCTAssertEqual(try berg("features", "--network", "alexnet", "--weights", weights, "--layer", "features.12",
                                "--input", stimuli.path, "--output", acts.path).status, 0)
        let features = try HDF5File(path: acts.path, mode: .read).read("features.12").reshaped([count, 288])
        let responses = try Tensor(shape: [count, 6], floats: (0..<(count * 6)).map { i in
            features.floats[(i / 6) * 288 + (i % 6) * 7] + Float(i % 5) * 0.1 })
        let y = work.appendingPathComponent("y.npy")
        try NPYFile.write(responses, to: y.path)
        let out = work.appendingPathComponent("fit")
        let run = try fit(["--features", acts.path, "--layer", "features.12", "--responses", y.path, "--pca", "5", "--estimator", "ridge",
                           "--alpha", "0.5", "--cv", "4", "--model-id", "my-alexnet-fit", "--subject", "3"], output: out)
        XCTAssertEqual(run.status, 0, run.stderr)
        // What the package's arrays predict: (x − mean)·Cᵀ·coefᵀ + intercept.
        let npz = try NPZFile.read(out.appendingPathComponent("model/weights.npz").path)
        XCTAssertEqual(npz["pca_components"]?.shape, [5, 288])
        XCTAssertEqual(npz["coef"]?.shape, [6, 5])
        let components = npz["pca_components"]!.doubles, mean = npz["pca_mean"]!.doubles
        let coef = npz["coef"]!.doubles, intercept = npz["intercept"]!.doubles
        var packaged = [Double]()
        for i in 0..<count {
            let x = (0..<288).map { Double(features.floats[i * 288 + $0]) - mean[$0] }
            let z = (0..<5).map { c in (0..<288).reduce(0.0) { $0 + x[$1] * components[c * 288 + $1] } }
            for v in 0..<6 { packaged.append((0..<5).reduce(intercept[v]) { $0 + z[$1] * coef[v * 5 + $1] }) }
        }
        return (out.appendingPathComponent("model"), stimuli, packaged, responses, weights)
    }

    /// The package is a feature-linear manifest the strict loader accepts, with the features'
    /// network, layer, preprocessing and weights.
    func testFitWritesAModelPackage() throws {
        let (model, _, packaged, responses, weights) = try makeModelPackage()
        let manifest = try ManifestLoader.load(contentsOf: model.appendingPathComponent("manifest.yaml"))
        XCTAssertEqual(manifest.modelID, "my-alexnet-fit")
        XCTAssertEqual(manifest.encoder.kind, "feature-linear")
        XCTAssertEqual(manifest.subjects, [3])
        XCTAssertEqual(manifest.output.map(\.name), ["responses"])
        XCTAssertEqual(manifest.encoder.preprocessing, Preprocessing(resize: .torchvisionBilinear, shorterSide: 256, crop: 224,
                                                                     mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
        let settings = manifest.encoder.settings
        XCTAssertEqual(settings["network"], .string("alexnet"))
        XCTAssertEqual(settings["layers"], .list([.string("features.12")]))
        XCTAssertEqual(settings["zscore_features"], .bool(false))
        XCTAssertEqual(settings["pca"], .map(["components": .string("pca_components"), "mean": .string("pca_mean")]))
        XCTAssertEqual(settings["readouts"], .list([.map(["output": .string("responses"), "coef": .string("coef"), "intercept": .string("intercept")])]))
        let backbone = try XCTUnwrap(manifest.artifacts.first { $0.name == "backbone" })
        XCTAssertEqual(backbone.source, .local)
        XCTAssertEqual(backbone.path, URL(fileURLWithPath: weights).standardizedFileURL.path)
        XCTAssertEqual(backbone.sha256, try ArtifactStore.sha256(of: URL(fileURLWithPath: weights)))
        let packageWeights = try XCTUnwrap(manifest.artifacts.first { $0.name == "weights" })
        XCTAssertEqual(packageWeights.path, "weights.npz")
        XCTAssertEqual(packageWeights.sha256, try ArtifactStore.sha256(of: model.appendingPathComponent("weights.npz")))
        // A ridge on 24 images fits them: the packaged model tracks the responses it was fitted to.
        var residual = 0.0, total = 0.0
        let mean = responses.doubles.reduce(0, +) / Double(responses.count)
        for (p, y) in zip(packaged, responses.doubles) { residual += (p - y) * (p - y); total += (y - mean) * (y - mean) }
        XCTAssertLessThan(residual, total, "the refit explains part of the responses")
    }

    /// `berg encode ID --registry OUT/model` gives what the package's arrays give.
    func testFitModelPackageRunsWithBergEncode() throws {
        guard try BERG().kinds.names.contains("feature-linear") else {
            throw XCTSkip("the feature-linear encoder kind is not in this build (issue 13)")
        }
        let (model, stimuli, packaged, _, _) = try makeModelPackage()
        let encoded = work.appendingPathComponent("encoded.npy")
        let encode = try berg("encode", "my-alexnet-fit", "--subject", "3", "--registry", model.path,
                              "--input", stimuli.path, "--output", encoded.path)
        XCTAssertEqual(encode.status, 0, encode.stderr)
        let ours = try NPYFile.read(encoded.path).doubles
        XCTAssertEqual(ours.count, packaged.count)
        for (a, b) in zip(ours, packaged) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }

        // The spelling, without --subject: the package declares one subject (3), which is used.
        let withoutSubject = work.appendingPathComponent("encoded-default-subject.npy")
        let plain = try berg("encode", "my-alexnet-fit", "--registry", model.path, "--input", stimuli.path, "--output", withoutSubject.path)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(try NPYFile.read(withoutSubject.path).doubles, ours)
    }

    func testFitUsageErrors() throws {
        let out = work.appendingPathComponent("out")
        let x = Self.fixture("B.X.npy"), y = Self.fixture("B.Y.npy")
        // N mismatch, naming both shapes.
        assertFails(try fit(["--features", x, "--responses", Self.fixture("C.Y.npy"), "--estimator", "linear"], output: out),
                    status: 2, mentioning: "[80, 25]")
        // A mask whose voxel count disagrees with the responses.
        assertFails(try fit(["--features", x, "--responses", y, "--mask", Self.fixture("A.mask.nii.gz"), "--estimator", "linear"], output: out),
                    status: 2, mentioning: "40 voxels")
        // K larger than the training rows.
        assertFails(try fit(["--features", x, "--responses", y, "--pca", "140", "--estimator", "linear", "--cv", "5"], output: out),
                    status: 2, mentioning: "[120, 40]")
        assertFails(try fit(["--features", x, "--responses", y, "--estimator", "pls", "--components", "41"], output: out),
                    status: 2, mentioning: "PLSRegression(41)")
        assertFails(try fit(["--features", x, "--responses", y, "--estimator", "lasso", "--alphas", "1,10"], output: out),
                    status: 2, mentioning: "ridge only")
        assertFails(try fit(["--features", x, "--responses", y, "--estimator", "ridge", "--cv", "5", "--val-fraction", "0.2"], output: out),
                    status: 2, mentioning: "not both")
        assertFails(try fit(["--features", x, "--responses", y, "--estimator", "svm"], output: out), status: 2, mentioning: "linear, ridge, lasso")
        assertFails(try fit(["--features", Self.fixture("A.acts.h5"), "--layer", "fc7", "--responses", Self.fixture("A.Y.npy"),
                             "--estimator", "linear"], output: out), status: 2, mentioning: "features.12")
        assertFails(try fit(["--features", x, "--responses", Self.fixture("A.Y.nii.gz"), "--estimator", "linear"], output: out),
                    status: 2, mentioning: "--mask")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("scores.npy").path))

        // NaN responses: an error, or dropped with --drop-nan-voxels (and counted).
        var values = try NPYFile.read(y).doubles
        values[3 * 30 + 4] = .nan
        values[7 * 30 + 11] = .nan
        let withNaN = work.appendingPathComponent("nan.npy")
        try NPYFile.write(try Tensor(shape: [150, 30], doubles: values), to: withNaN.path)
        assertFails(try fit(["--features", x, "--responses", withNaN.path, "--estimator", "ridge"], output: out),
                    status: 2, mentioning: "--drop-nan-voxels")
        let dropped = try fit(["--features", x, "--responses", withNaN.path, "--estimator", "ridge", "--drop-nan-voxels"], output: out)
        XCTAssertEqual(dropped.status, 0, dropped.stderr)
        XCTAssertTrue(dropped.stderr.contains("dropped 2 of 30 voxels"), dropped.stderr)
        XCTAssertEqual(try NPYFile.read(out.appendingPathComponent("scores.npy").path).shape, [28, 5])
        XCTAssertEqual(try NPYFile.read(out.appendingPathComponent("voxels.npy").path).int64s.count, 28)
    }
}
