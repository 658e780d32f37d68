import BERGCore
import XCTest
@testable import BERGCompute

/// The backward pieces of the engine against the identity every linear map and its transpose
/// satisfy, ⟨A x, y⟩ = ⟨x, Aᵀ y⟩, for random x and y: a wrong index, stride, padding, flip
/// or scale breaks it at once. (PyTorch checks of whole networks are in BERGModelsTests.)
final class InputGradientOpsTests: XCTestCase {
    var generator = SeededGenerator(seed: 17)

    func random(_ shape: [Int]) throws -> Tensor {
        try Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in Float(generator.nextGaussian()) })
    }

    func dot(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.floats, b.floats).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    func assertAdjoint(_ forward: Double, _ backward: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(forward, backward, accuracy: 2e-5 * max(1, abs(forward)), what, file: file, line: line)
    }

    /// Stride 1 (the transposed convolution, Winograd where channels allow) and strided
    /// (GEMM + col2im), with and without padding, and with a BatchNorm scale on the input.
    func testConvolutionInputGradientIsTheTranspose() throws {
        let cases: [(cin: Int, cout: Int, k: Int, stride: Int, pad: Int, side: Int)] = [
            (3, 8, 11, 4, 2, 31), (5, 7, 5, 1, 2, 9), (32, 40, 3, 1, 0, 11), (40, 32, 3, 1, 1, 13),
            (48, 33, 3, 1, 2, 10), (6, 4, 3, 2, 1, 12), (8, 16, 1, 2, 0, 9), (4, 6, 7, 2, 3, 15),
        ]
        for c in cases {
            let conv = try Conv2d(weight: random([c.cout, c.cin, c.k, c.k]), stride: Size2(c.stride, c.stride), padding: Size2(c.pad, c.pad))
            let scale = (0..<c.cin).map { Float(1 + $0 % 3) / 2 }
            let x = try random([2, c.cin, c.side, c.side])
            let y = try conv(x)
            let dy = try random(y.shape)
            let dx = try Conv2dInputGradient(conv, inputScale: scale)(dy, inputHeight: c.side, inputWidth: c.side)
            XCTAssertEqual(dx.shape, x.shape)
            // conv(s ⊙ x) against s ⊙ convᵀ(dy).
            let scaled = try Tensor(shape: x.shape, floats: x.floats.enumerated().map { $0.element * scale[($0.offset / (c.side * c.side)) % c.cin] })
            assertAdjoint(dot(try conv(scaled), dy), dot(x, dx), "\(c)")
        }
    }

    func testPoolingGradientsAreTheTranspose() throws {
        let x = try random([2, 3, 13, 11])
        for (kernel, stride, padding) in [(3, 2, 1), (3, 2, 0), (2, 2, 0)] as [(Size2, Size2, Size2)] {
            let (y, indices) = try Ops.maxPool2dWithIndices(x, kernel: kernel, stride: stride, padding: padding)
            XCTAssertEqual(y, try Ops.maxPool2d(x, kernel: kernel, stride: stride, padding: padding))
            let dy = try random(y.shape)
            assertAdjoint(dot(y, dy), dot(x, try Ops.maxPool2dGradient(dy, indices: indices)), "max pool \(kernel) \(stride) \(padding)")
        }
        for output in [Size2(1, 1), Size2(6, 4), Size2(5, 5)] {
            let y = try Ops.adaptiveAvgPool2d(x, output: output)
            let dy = try random(y.shape)
            assertAdjoint(dot(y, dy), dot(x, try Ops.adaptiveAvgPool2dGradient(dy, inputHeight: 13, inputWidth: 11)), "adaptive \(output)")
        }
    }

    /// Ties go to the first tap, as PyTorch routes them.
    func testMaxPoolTiesGoToTheFirstTap() throws {
        let x = try Tensor(shape: [1, 1, 2, 2], floats: [1, 3, 3, 0])
        let (_, indices) = try Ops.maxPool2dWithIndices(x, kernel: 2)
        XCTAssertEqual(try Ops.maxPool2dGradient(Tensor(shape: [1, 1, 1, 1], floats: [1]), indices: indices).floats, [0, 1, 0, 0])
    }

    func testLinearInputGradientIsTheTranspose() throws {
        let linear = try Linear(weight: random([7, 5]))
        let x = try random([3, 5]), dy = try random([3, 7])
        assertAdjoint(dot(try linear(x), dy), dot(x, try linear.inputGradient(dy)), "linear")
    }

    func testResamplingMapsAreTheTranspose() throws {
        var draws = SeededGenerator(seed: 3)
        for side in [17, 30] {
            let transforms = DreamTransforms(side: side, outputSide: 23, generator: &draws)
            let x = try random([2, 3, side, side])
            let y = try transforms.apply(x)
            XCTAssertEqual(y.shape, [2, 3, 23, 23])
            // The grey padding is the map's constant part: take it out of the forward side.
            let offset = try transforms.apply(Tensor.zeros(x.shape))
            let linear = try Ops.add(y, Tensor(shape: y.shape, floats: offset.floats.map { -$0 }))
            let dy = try random(y.shape)
            assertAdjoint(dot(linear, dy), dot(x, try transforms.adjoint(dy)), "transforms at \(side)")
        }
    }

    /// The spectrum → image map before its sigmoid is linear: check its gradient against a
    /// finite difference of the rendered image along a random direction.
    func testFourierImageGradientMatchesFiniteDifferences() throws {
        var draws = SeededGenerator(seed: 5)
        var image = try FourierImage(batch: 2, size: 15, generator: &draws)
        let rendered = try image.render()
        let weights = try random(rendered.shape)
        let gradient = try image.gradient(imageGradient: weights, image: rendered)
        let direction = (0..<image.spectrum.count).map { _ in Float(generator.nextGaussian()) }
        let h: Float = 1e-2
        let base = image.spectrum
        func loss(_ sign: Float) throws -> Double {
            image.spectrum = zip(base, direction).map { $0 + sign * h * $1 }
            return dot(try image.render(), weights)
        }
        let numeric = (try loss(1) - loss(-1)) / Double(2 * h)
        let analytic = zip(gradient, direction).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(numeric, analytic, accuracy: 1e-3 * max(1, abs(analytic)))
    }

    /// captum's quadratures: Gauss–Legendre nodes and weights as NumPy's `leggauss` gives them.
    func testQuadraturesMatchCaptum() throws {
        let (alphas, weights) = try IntegrationMethod.gaussLegendre.quadrature(steps: 3)
        // 0.5 · (1 + (−√0.6, 0, √0.6)), 0.5 · (5/9, 8/9, 5/9)
        for (a, b) in zip(alphas, [0.5 * (1 - 0.6.squareRoot()), 0.5, 0.5 * (1 + 0.6.squareRoot())]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        for (a, b) in zip(weights, [5.0 / 18, 8.0 / 18, 5.0 / 18]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
        // NumPy finds the nodes as eigenvalues, then one Newton step; its weights agree to 1e-12.
        let fifty = try IntegrationMethod.gaussLegendre.quadrature(steps: 50)
        XCTAssertEqual(fifty.weights.reduce(0, +), 1, accuracy: 1e-13)
        XCTAssertEqual(fifty.alphas.first!, 0.000_566_797_789_964_490_5, accuracy: 1e-15)
        XCTAssertEqual(fifty.weights.first!, 0.001_454_311_276_578_963_3, accuracy: 1e-11 * 0.0015)
        let trapezoid = try IntegrationMethod.riemannTrapezoid.quadrature(steps: 5)
        XCTAssertEqual(trapezoid.alphas, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(trapezoid.weights, [0.1, 0.2, 0.2, 0.2, 0.1])
    }
}
