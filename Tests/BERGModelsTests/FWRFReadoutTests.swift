import XCTest
import BERGCore
import BERGCompute
import BERGFormats

/// The fused fwRF readout alone, against PyTorch (Tools/reference/make_fwrf_fixtures.py,
/// `readout_case`: BERG's Torch_LayerwiseFWRF maths on small shapes, 70 voxels).
final class FWRFReadoutTests: XCTestCase {
    func fixture(_ name: String) throws -> Tensor {
        try NPYFile.read(FWRFFixtures.directory.appendingPathComponent("\(name).npy").path)
    }

    func testMatchesPyTorchOnSmallShapes() throws {
        let maps = try (0..<3).map { try fixture("readout_f\($0)") }
        let fields = try (0..<3).map { try fixture("readout_rf\($0)") }
        let readout = try FWRFReadout(receptiveFields: fields, weights: try fixture("readout_w"),
                                      bias: try fixture("readout_b"), channelCounts: maps.map { $0.shape[1] })
        let expected = try fixture("readout_y")
        XCTAssertEqual(readout.voxelCount, 70)
        for threads in [1, 2, 3] {
            let y = try readout(maps, threads: threads)
            XCTAssertEqual(y.shape, expected.shape)
            FWRFFixtures.assertClose(y, expected, relative: 2e-6, "threads \(threads)")
        }
    }

    func testRejectsFeatureMapOfWrongShape() throws {
        let maps = try (0..<3).map { try fixture("readout_f\($0)") }
        let fields = try (0..<3).map { try fixture("readout_rf\($0)") }
        let readout = try FWRFReadout(receptiveFields: fields, weights: try fixture("readout_w"),
                                      bias: try fixture("readout_b"), channelCounts: maps.map { $0.shape[1] })
        var wrong = maps
        wrong[1] = try Tensor.zeros([3, 5, 4, 4])
        XCTAssertThrowsError(try readout(wrong))
    }

    /// The vectorised non-linearity against libm's log and tanh, across magnitudes.
    func testLogActivationMatchesLibm() {
        var inputs: [Float] = [0, -0.0, 1e-8, -1e-4, 0.3, -0.62, 0.625, 0.63, -1, 2.5, 8.9, 9.1, -20, 300, 1e6]
        for i in 0..<2000 { inputs.append(Float(i - 1000) * 0.0137) }
        var out = [Float](repeating: 0, count: inputs.count)
        LogActivation.apply(inputs, &out, count: inputs.count)
        for (x, y) in zip(inputs, out) {
            let reference = Float(Foundation.log(1 + Double(abs(x))) * Foundation.tanh(Double(x)))
            XCTAssertEqual(y, reference, accuracy: 1e-6 * max(1, abs(reference)) + 4 * reference.ulp, "x = \(x)")
        }
    }
}

/// Where the fwRF fixtures are, and the comparison the tests share.
enum FWRFFixtures {
    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/fwrf")
    }

    /// A uint8 [N, 3, H, W] `.npy` of fixture images as a stimulus.
    static func stimulus(_ url: URL) throws -> Stimulus {
        let t = try NPYFile.read(url.path)
        guard case .uint8(let bytes) = t.storage, t.rank == 4 else { throw BERGError.invalidInput("fixture images are not uint8 [N,3,H,W]") }
        return try Stimulus(images: bytes, count: t.shape[0], height: t.shape[2], width: t.shape[3])
    }

    /// max |a − b| ≤ relative · max |b|: the network's outputs compared at the scale of the
    /// reference's largest response.
    static func assertClose(_ actual: Tensor, _ expected: Tensor, relative: Float, _ message: String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        let a = actual.floats, b = expected.floats
        guard a.count == b.count else { return }
        let scale = b.map(abs).max() ?? 0
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        XCTAssertLessThanOrEqual(worst, relative * scale,
                                 "\(message): max |difference| \(worst) over scale \(scale)", file: file, line: line)
    }
}
