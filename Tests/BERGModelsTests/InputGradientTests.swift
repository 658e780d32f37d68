import XCTest
import BERG
import BERGCompute
import BERGFormats
import BERGStore
@testable import BERGModels

/// Input gradients and integrated gradients against PyTorch autograd and captum
/// (Tools/reference/make_attribution_fixtures.py): a random-weight fwRF network in BERG's
/// layout (V1, 6 voxels) and img2fmri's pipeline on a tiny ResNet-18 with a Ridge readout.
final class InputGradientTests: XCTestCase {
    /// The fixture BERG directory (V1, FFA-1, PPA of subject 1), unpacked once per run.
    static let bergDir: URL = {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("attribution-tests-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: scratch)
        do {
            try ArchiveExtractor.extract(AttributionFixtures.directory.appendingPathComponent("berg_dir.tar.xz"), into: scratch)
        } catch {
            XCTFail("cannot unpack the fixture BERG directory: \(error)")
        }
        atexit { try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("attribution-tests-\(ProcessInfo.processInfo.processIdentifier)")) }
        return scratch.appendingPathComponent("berg_dir")
    }()

    static func fwrf(_ roi: String) throws -> FWRFEncoder {
        let berg = try BERG(home: bergDir.deletingLastPathComponent().appendingPathComponent("home"),
                            storeOptions: StoreOptions(bergDir: bergDir, offline: true))
        return try XCTUnwrap(try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": roi]) as? FWRFEncoder)
    }

    static func img2fmri() throws -> Img2fmriEncoder {
        let context = EncoderContext(
            manifest: try Img2fmriFixtures.manifest(), subject: 1, selection: ["roi": "OPA"], device: .auto,
            files: ["package": Img2fmriFixtures.folder.appendingPathComponent("e2e/package"),
                    "backbone": Img2fmriFixtures.folder.appendingPathComponent("e2e/resnet18-tiny.pth")])
        return try Img2fmriEncoder(context: context)
    }

    func check(_ model: some DifferentiableEncodingModel, fixture: String, method: IntegrationMethod, steps: Int) throws {
        let reference = try NPZFile.read(AttributionFixtures.directory.appendingPathComponent(fixture).path)
        let image = try XCTUnwrap(reference["image"])
        let x = try Tensor(shape: image.shape, floats: image.floats.map { $0 / 255 })

        let (values, gradients) = try model.inputGradient(x)
        AttributionFixtures.assertClose(try Tensor(shape: [1], floats: values), try XCTUnwrap(reference["value"]), relative: 1e-4, "\(fixture) f(x)")
        AttributionFixtures.assertClose(gradients, try XCTUnwrap(reference["gradient"]), relative: 1e-3, "\(fixture) gradient")

        // fwRF's path starts from a textured baseline (see the fixture script); img2fmri's from black.
        let baseline = try reference["baseline"].map { try Tensor(shape: $0.shape, floats: $0.floats.map { $0 / 255 }) }
        let attribution = try model.integratedGradients(x, baseline: baseline, steps: steps, method: method)
        AttributionFixtures.assertClose(attribution.attributions, try XCTUnwrap(reference["ig"]), relative: 1e-3, "\(fixture) integrated gradients")
        AttributionFixtures.assertClose(try Tensor(shape: [1], floats: attribution.baselineValues),
                                        try XCTUnwrap(reference["ig_baseline_value"]), relative: 1e-4, "\(fixture) f(baseline)")
    }

    func testFWRFV1GradientsMatchPyTorchAndCaptum() throws {
        try check(try InputGradientTests.fwrf("V1"), fixture: "fwrf_v1.npz", method: .gaussLegendre, steps: 8)
    }

    func testImg2fmriGradientsMatchPyTorchAndCaptum() throws {
        try check(try InputGradientTests.img2fmri(), fixture: "img2fmri_opa.npz", method: .riemannTrapezoid, steps: 24)
    }
}

enum AttributionFixtures {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/attribution") }

    /// max |a − b| ≤ relative · max |b|.
    static func assertClose(_ actual: Tensor, _ expected: Tensor, relative: Float, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        let a = actual.floats, b = expected.floats
        guard a.count == b.count else { return }
        let scale = b.map(abs).max() ?? 0
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        print("\(message): max |difference| / max |reference| = \(worst / max(scale, .leastNormalMagnitude))")
        XCTAssertLessThanOrEqual(worst, relative * scale, "\(message): max |difference| \(worst) over scale \(scale)", file: file, line: line)
    }
}

