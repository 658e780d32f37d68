import BERGCompute
import BERGCore
import XCTest

/// Resizers against torchvision and Pillow. Pillow's path must be exact; torchvision's float32
/// path is exact on these fixtures, and within one grey level on at most 0.01 % of pixels in
/// general (on random shapes about one pixel in ten images still differs, see ImageResize).
final class ImageResizeTests: XCTestCase {
    /// (largest difference, share of pixels that differ)
    func compare(_ a: Tensor, _ b: Tensor) -> (Int, Double) {
        guard case .uint8(let x) = a.storage, case .uint8(let y) = b.storage, x.count == y.count else { return (Int.max, 1) }
        var worst = 0, off = 0
        for i in 0..<x.count {
            let d = abs(Int(x[i]) - Int(y[i]))
            worst = max(worst, d)
            if d != 0 { off += 1 }
        }
        return (worst, Double(off) / Double(max(x.count, 1)))
    }

    func testTorchvisionBilinearMatches() throws {
        var cases = 0
        for (name, p) in try Fixtures.cases("resize") where p["height"] != nil {
            let x = try Fixtures.array("resize", "\(name).x")
            let expected = try Fixtures.array("resize", "\(name).torchvision_bilinear")
            let y = try ImageResize.torchvisionBilinear(x, height: p.int("height"), width: p.int("width"))
            XCTAssertEqual(y.shape, expected.shape, name)
            let (worst, share) = compare(y, expected)
            print("torchvision bilinear \(name): max diff \(worst), \(String(format: "%.4f", share * 100)) % of pixels differ")
            XCTAssertLessThanOrEqual(worst, 1, name)
            XCTAssertLessThanOrEqual(share, 1e-4, name)
            cases += 1
        }
        XCTAssertEqual(cases, 4)
    }

    func testPillowResizeIsExact() throws {
        var cases = 0
        for (name, p) in try Fixtures.cases("resize") where p["height"] != nil {
            let x = try Fixtures.array("resize", "\(name).x")
            for filter in ImageResize.Filter.allCases {
                let expected = try Fixtures.array("resize", "\(name).pil_\(filter.rawValue)")
                let y = try ImageResize.pil(x, height: p.int("height"), width: p.int("width"), filter: filter)
                XCTAssertEqual(y.shape, expected.shape, name)
                let (worst, share) = compare(y, expected)
                print("Pillow \(filter) \(name): max diff \(worst), \(String(format: "%.3f", share * 100)) % of pixels differ")
                XCTAssertEqual(worst, 0, "\(name) \(filter)")
                cases += 1
            }
        }
        XCTAssertEqual(cases, 8)
    }

    func testShorterSideResizeAndCenterCropIsExact() throws {
        var cases = 0
        for (name, p) in try Fixtures.cases("resize") where p["crop"] != nil {
            let x = try Fixtures.array("resize", "\(name).x")
            let expected = try Fixtures.array("resize", "\(name).y")
            let y = try ImageResize.resizeShorterSideCenterCrop(x, shorterSide: p.int("size"), crop: p.int("crop"))
            XCTAssertEqual(y.shape, expected.shape, name)
            XCTAssertEqual(compare(y, expected).0, 0, name)
            cases += 1
        }
        XCTAssertEqual(cases, 2)
    }

    func testToFloatNormalises() throws {
        let x = try Tensor(shape: [1, 2, 1, 2], bytes: [0, 255, 51, 102])
        let y = try ImageResize.toFloat(x, mean: [0.5, 0.2], std: [0.5, 0.1])
        let expected: [Float] = [-1, 1, 0, 2]
        for (a, b) in zip(y.floats, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertThrowsError(try ImageResize.toFloat(x, mean: [0.5], std: [0.5]))
        // Several images: each plane takes its own channel's mean and std; float input agrees.
        let bytes: [UInt8] = (0..<180).map { (i: Int) -> UInt8 in UInt8(i * 37 % 256) }
        let images = try Tensor(shape: [3, 3, 5, 4], bytes: bytes)
        let (mean, std): ([Float], [Float]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        let normalised = try ImageResize.toFloat(images, mean: mean, std: std).floats
        for (i, b) in bytes.enumerated() {
            let channel = i / 20 % 3
            let expected: Float = (Float(b) / 255 - mean[channel]) / std[channel]
            XCTAssertEqual(normalised[i], expected, "value \(i)")
        }
        let asFloats: [Float] = bytes.map { Float($0) }
        let fromFloats = try ImageResize.toFloat(try Tensor(shape: [3, 3, 5, 4], floats: asFloats), mean: mean, std: std)
        XCTAssertEqual(fromFloats.floats, normalised)
        XCTAssertThrowsError(try ImageResize.pil(try Tensor.zeros([1, 3, 4, 4]), height: 2, width: 2, filter: .bilinear))
        XCTAssertThrowsError(try ImageResize.centerCrop(x, height: 3, width: 3))
    }
}

final class FloatResizeAndThreadsTests: XCTestCase {
    /// torchvision Resize on a float tensor keeps floats (1e-5 relative, see `relativeError`).
    func testTorchvisionBilinearOnFloats() throws {
        let x = try Fixtures.array("resize", "float_23x30_to_11x17_b2.x")
        let expected = try Fixtures.array("resize", "float_23x30_to_11x17_b2.y")
        let y = try ImageResize.torchvisionBilinear(x, height: 11, width: 17)
        XCTAssertEqual(y.dtype, .float32)
        assertClose(y, expected, tolerance: 1e-5, "float resize")
    }

    func testThreadCountFromArgumentAndEnvironment() {
        let saved = ComputeThreads.count
        defer { ComputeThreads.configure(saved); unsetenv("BERG_NUM_THREADS") }
        ComputeThreads.configure(3)
        XCTAssertEqual(ComputeThreads.count, 3)
        ComputeThreads.configure(0)
        XCTAssertEqual(ComputeThreads.count, 1, "clamped to at least one")
        setenv("BERG_NUM_THREADS", "5", 1)
        ComputeThreads.configure(nil)
        XCTAssertEqual(ComputeThreads.count, 5)
        unsetenv("BERG_NUM_THREADS")
        ComputeThreads.configure(nil)
        XCTAssertEqual(ComputeThreads.count, ProcessInfo.processInfo.activeProcessorCount)
    }
}
