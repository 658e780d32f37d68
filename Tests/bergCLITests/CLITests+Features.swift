import BERG
import BERGFormats
import Foundation
import XCTest

/// `berg features` against forward hooks on torchvision's modules
/// (Tools/reference/make_features_fixtures.py: reduced-width random networks).
extension CLITests {
    static var featureFixtures: URL { root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/features") }

    static func maxRelativeError(_ ours: Tensor, _ theirs: Tensor) -> Float {
        var diff: Float = 0, scale: Float = 1e-6
        for (a, b) in zip(ours.floats, theirs.floats) { diff = max(diff, abs(a - b)); scale = max(scale, abs(b)) }
        return diff / scale
    }

    func testFeaturesWritesEachLayerWithProvenance() throws {
        let fixtures = Self.featureFixtures
        let output = work.appendingPathComponent("acts.h5")
        let weights = fixtures.appendingPathComponent("alexnet-tiny.pth").path
        let run = try berg("features", "--network", "alexnet", "--weights", weights,
                           "--layer", "features.0", "--layer", "features.12", "--layer", "classifier.6",
                           "--input", fixtures.appendingPathComponent("stimuli.npy").path, "--output", output.path,
                           "--batch-size", "1", "--threads", "1")
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: output.path, mode: .read)
        let reference = try HDF5File(path: fixtures.appendingPathComponent("alexnet.h5").path, mode: .read)
        for layer in ["features.0", "features.12", "classifier.6"] {
            let ours = try file.read(layer)
            let theirs = try reference.read(layer)
            XCTAssertEqual(ours.dtype, .float32)
            XCTAssertEqual(ours.shape, theirs.shape, layer)
            XCTAssertLessThanOrEqual(Self.maxRelativeError(ours, theirs), 1e-4, layer)
        }
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["stimuli[0]", "stimuli[1]"])
        XCTAssertEqual(try file.attribute("network"), .string("alexnet"))
        XCTAssertEqual(try file.attribute("layers"), .strings(["features.0", "features.12", "classifier.6"]))
        XCTAssertEqual(try file.attribute("berg_version"), .string(BERG.version))
        guard case .string(let sha) = try file.attribute("weights_sha256"), case .string(let pre) = try file.attribute("preprocessing") else {
            return XCTFail("weights_sha256 and preprocessing attributes")
        }
        XCTAssertEqual(sha, try ArtifactStore.sha256(of: URL(fileURLWithPath: weights)))
        let record = try JSONDecoder().decode(Preprocessing.self, from: Data(pre.utf8))
        XCTAssertEqual(record, Preprocessing(resize: .torchvisionBilinear, shorterSide: 256, crop: 224,
                                             mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
    }

    /// Without --weights, torchvision's file comes through the store (here from its cache,
    /// offline); images of two sizes in a folder.
    func testFeaturesFromTheStoreAndImageFiles() throws {
        let fixtures = Self.featureFixtures
        let home = work.appendingPathComponent("home")
        let cached = home.appendingPathComponent("https/download.pytorch.org/models/resnet18-f37072fd.pth")
        try FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("resnet18-tiny.pth"), to: cached)
        let output = work.appendingPathComponent("acts.h5")
        let environment = ["BERG_HOME": home.path, "BERG_OFFLINE": "1"]
        let run = try berg("features", "--network", "resnet18", "--layer", "avgpool", "--layer", "layer4",
                           "--input", fixtures.appendingPathComponent("images").path, "--output", output.path,
                           environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: output.path, mode: .read)
        let reference = try HDF5File(path: fixtures.appendingPathComponent("resnet18.h5").path, mode: .read)
        for layer in ["avgpool", "layer4"] {
            XCTAssertLessThanOrEqual(Self.maxRelativeError(try file.read(layer), try reference.read("images/" + layer)), 2e-3, layer)
        }
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["a.png", "b.jpg"])
        XCTAssertEqual(try file.attribute("weights"), .string("https://download.pytorch.org/models/resnet18-f37072fd.pth"))

        // Offline with nothing cached: a clear failure naming the file, and no output left.
        try FileManager.default.removeItem(at: cached)
        let missing = work.appendingPathComponent("missing.h5")
        let failed = try berg("features", "--network", "resnet18", "--layer", "avgpool",
                              "--input", fixtures.appendingPathComponent("images").path, "--output", missing.path,
                              environment: environment)
        assertFails(failed, status: 1, mentioning: "resnet18-f37072fd.pth")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path))
    }

    func testFeaturesUsageErrors() throws {
        let fixtures = Self.featureFixtures
        let stimuli = fixtures.appendingPathComponent("stimuli.npy").path
        let output = work.appendingPathComponent("acts.h5").path
        let weights = fixtures.appendingPathComponent("vit-tiny.pth").path
        assertFails(try berg("features", "--network", "vit_b_32", "--weights", weights, "--layer", "encoder.layer.3",
                             "--input", stimuli, "--output", output),
                    status: 2, mentioning: "encoder.layers.encoder_layer_1.mlp.0")
        assertFails(try berg("features", "--network", "vgg16", "--layer", "features.0", "--input", stimuli, "--output", output),
                    status: 2, mentioning: "alexnet, resnet18, vit_b_32")
        assertFails(try berg("features", "--network", "alexnet", "--input", stimuli, "--output", output),
                    status: 2, mentioning: "--layer")
        assertFails(try berg("features", "--network", "alexnet", "--weights", weights, "--layer", "features.0",
                             "--input", stimuli, "--output", work.appendingPathComponent("acts.npy").path),
                    status: 2, mentioning: ".h5")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }
}
