import BERGCore
import BERGFormats
@testable import BERGModels
import BERGTestSupport
import Foundation
import XCTest

/// img2fmri's HRF and its convolution against NumPy (utils.conv_hrf_and_downsample's kernel and
/// `np.convolve(x, hrf)[:frames]`, in Tools/reference/make_img2fmri_mni_fixtures.py).
final class HemodynamicResponseTests: XCTestCase {
    func reference() throws -> [String: Tensor] {
        // The movie fixtures' HRFs (BERGFormatsTests/Fixtures/movie), from the source tree.
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let folder = tests.appendingPathComponent("BERGFormatsTests/Fixtures/movie")
        return try NPZFile.read(folder.appendingPathComponent("reference.npz").path)
    }

    func testKernelMatchesNumPy() throws {
        let reference = try reference()
        for (interval, key) in [(0.5, "hrf_2hz"), (1.0 / 3, "hrf_3hz")] {
            let expected = try XCTUnwrap(reference[key]).doubles
            let kernel = try HemodynamicResponse.kernel(sampleInterval: interval)
            XCTAssertEqual(kernel.count, expected.count, key)
            for (a, b) in zip(kernel, expected) { XCTAssertEqual(a, b, accuracy: 1e-12, key) }
        }
        // Its peak is 1 at t = p·q ≈ 4.7 s.
        let fine = try HemodynamicResponse.kernel(sampleInterval: 0.01)
        XCTAssertEqual(fine.max() ?? 0, 1, accuracy: 1e-3)
        XCTAssertThrowsError(try HemodynamicResponse.kernel(sampleInterval: 0))
    }

    func testConvolutionMatchesNumPy() throws {
        let reference = try reference()
        let series = try XCTUnwrap(reference["series"])
        let expected = try XCTUnwrap(reference["convolved"]).floats
        let out = try HemodynamicResponse.convolve(series.floats, frames: series.shape[0],
                                                   kernel: try HemodynamicResponse.kernel(sampleInterval: 0.5))
        assertClose(out, expected, relative: 1e-6, "HRF convolution")
        XCTAssertThrowsError(try HemodynamicResponse.convolve([1, 2, 3], frames: 2, kernel: [1]))
    }
}
