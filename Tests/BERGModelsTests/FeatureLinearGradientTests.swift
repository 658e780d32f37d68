import XCTest
import BERG
import BERGCompute
import BERGFormats
import BERGRegistry
import BERGStore
@testable import BERGModels

/// Input gradients of a `feature-linear` model on AlexNet (Tools/reference/make_vit_fixtures.py's
/// test-alexnet_linear: two layers, z-scored per image, scaler, PCA, readout): the target is
/// the model's own response, gradients and integrated gradients match PyTorch autograd and
/// captum, integrated gradients are complete, and the ViT-B/32 models are refused with the ones that work named.
final class FeatureLinearGradientTests: XCTestCase {
    nonisolated(unsafe) static var scratch: URL!
    static var bergDir: URL { scratch.appendingPathComponent("berg_dir") }

    override class func setUp() {
        super.setUp()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("feature-linear-gradient-\(UUID().uuidString)")
        do {
            let archive = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/vit/berg_dir.tar.xz")
            try ArchiveExtractor.extract(archive, into: scratch)
        } catch {
            XCTFail("cannot unpack the fixture BERG directory: \(error)")
        }
    }

    override class func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        super.tearDown()
    }

    func makeBERG() throws -> BERG {
        try BERG(home: Self.scratch.appendingPathComponent("home"), registries: [Self.bergDir.appendingPathComponent("alexnet_model")],
                 storeOptions: StoreOptions(offline: true))
    }

    func model() throws -> any DifferentiableEncodingModel {
        try makeBERG().getDifferentiableModel("test-alexnet_linear", subject: 1)
    }

    func testTargetIsTheModel() throws {
        let model = try model()
        XCTAssertEqual(model.inputSide, 224)
        let stimulus = NaturalishImages.stimulus(count: 3, side: 240, seed: 4)
        let responses = try model.encode(stimulus).response
        XCTAssertEqual(model.responseCount, responses.shape[1])
        let v = responses.shape[1], r = responses.floats
        for voxels in [[0], [1, 3, v - 1], Array(0..<v)] {
            let expected = (0..<3).map { i in voxels.reduce(0.0) { $0 + Double(r[i * v + $1]) } / Double(voxels.count) }
            let values = try model.responseTarget(voxels: voxels).values(model.inputImages(stimulus))
            let scale = r.map(abs).max()!
            for (a, b) in zip(values, expected) { XCTAssertEqual(Double(a), b, accuracy: 1e-5 * Double(scale), "target against encode, voxels \(voxels)") }
        }
    }

    /// The input gradient and integrated gradients of the mean of three outputs against
    /// PyTorch autograd and captum (Tools/reference/make_feature_linear_gradient_fixture.py).
    func testGradientsMatchPyTorchAndCaptum() throws {
        let model = try model()
        let reference = try NPZFile.read(AttributionFixtures.directory.appendingPathComponent("alexnet_linear.npz").path)
        let image = try XCTUnwrap(reference["image"])
        let x = try Tensor(shape: image.shape, floats: image.floats.map { $0 / 255 })
        let voxels = try XCTUnwrap(reference["voxels"]).floats.map { Int($0) }
        let (values, gradients) = try model.inputGradient(x, voxels: voxels)
        AttributionFixtures.assertClose(try Tensor(shape: [1], floats: values), try XCTUnwrap(reference["value"]), relative: 1e-4, "alexnet_linear f(x)")
        AttributionFixtures.assertClose(gradients, try XCTUnwrap(reference["gradient"]), relative: 1e-3, "alexnet_linear gradient")
        let attribution = try model.integratedGradients(x, voxels: voxels, steps: 16, method: .gaussLegendre)
        AttributionFixtures.assertClose(attribution.attributions, try XCTUnwrap(reference["ig"]), relative: 1e-3, "alexnet_linear integrated gradients")
        AttributionFixtures.assertClose(try Tensor(shape: [1], floats: attribution.baselineValues),
                                        try XCTUnwrap(reference["ig_baseline_value"]), relative: 1e-4, "alexnet_linear f(baseline)")
    }

    func testCompletenessHoldsWithinOnePercent() throws {
        let model = try model()
        let attribution = try model.integratedGradients(model.inputImages(NaturalishImages.stimulus(count: 2, side: 224, seed: 8)),
                                                        steps: 128, method: .gaussLegendre)
        for (i, error) in attribution.completenessErrors.enumerated() {
            XCTAssertLessThan(error, 0.01, "image \(i): Σ \(attribution.sums[i]) against \(attribution.values[i] - attribution.baselineValues[i])")
        }
    }

    /// The ViT-B/32 models are feature-linear too, but without a backward pass for attention.
    func testViTModelsAreRefused() throws {
        var options = StoreOptions(bergDir: Self.bergDir, offline: true)
        options.overrides["backbone"] = Self.bergDir.appendingPathComponent("backbone.pth")
        let berg = try BERG(home: Self.scratch.appendingPathComponent("home"), storeOptions: options)
        XCTAssertThrowsError(try berg.getDifferentiableModel("fmri-nsd_fsaverage-vit_b_32", subject: 1)) { error in
            guard case BERGError.invalidArgument(let name, _, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "model")
            XCTAssertTrue(message.contains("alexnet or resnet18"), message)
            XCTAssertTrue(message.contains("fmri-nsd-fwrf"), message)
        }
        XCTAssertFalse(try berg.differentiableModelIDs().contains("fmri-nsd_fsaverage-vit_b_32"))
    }
}
