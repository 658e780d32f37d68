import XCTest
import BERG
import BERGCompute
import BERGFormats
import BERGRegistry
@testable import BERGModels

/// Attribution and dreams on the three differentiable kinds: the differentiated function is
/// the model's own, completeness holds, the pRF model's gradient matches finite differences,
/// and dreams beat varied natural-ish images and rise while they run.
final class ExplanationTests: XCTestCase {
    static func cssPRF(_ roi: String = "V1") throws -> CSSPRFEncoder {
        let manifest = try Registry.standard().manifest("fmri-kay2013-css_prf")
        let settings = try SettingsDecoder.decode(CSSPRFEncoder.Settings.self, from: manifest)
        return try CSSPRFEncoder(modelID: manifest.modelID, subject: 1, selection: ["roi": roi], device: .auto,
                                 settings: settings, area: settings.area(roi, model: manifest.modelID))
    }

    /// The target's forward pass is the model: on uint8 images through `inputImages`, it equals
    /// the mean of `encode`'s responses over the voxels.
    func assertTargetIsTheModel(_ model: some DifferentiableEncodingModel, _ stimulus: Stimulus, voxels: [Int],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let responses = try model.encode(stimulus).response
        let v = responses.shape[1], r = responses.floats
        let expected = (0..<stimulus.count).map { i in voxels.reduce(Float(0)) { $0 + r[i * v + $1] } / Float(voxels.count) }
        let values = try model.responseTarget(voxels: voxels).values(model.inputImages(stimulus))
        for (a, b) in zip(values, expected) {
            XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "target against encode", file: file, line: line)
        }
    }

    func testTargetsAreTheModels() throws {
        let images = NaturalishImages.stimulus(count: 3, side: 240, seed: 4)
        try assertTargetIsTheModel(InputGradientTests.fwrf("V1"), images, voxels: [0, 2, 5])
        try assertTargetIsTheModel(InputGradientTests.img2fmri(), images, voxels: [1, 3])
        try assertTargetIsTheModel(ExplanationTests.cssPRF(), images, voxels: [0, 100, 287])
    }

    /// The CSS pRF model's gradient against a central difference along a random direction, on
    /// an image whose luminance stays clear of the grey level and of full contrast (where the
    /// contrast has kinks).
    func testCSSPRFGradientMatchesFiniteDifferences() throws {
        let model = try ExplanationTests.cssPRF("V2")
        var generator = SeededGenerator(seed: 12)
        let side = 100
        let x = try Tensor(shape: [1, 3, side, side], floats: (0..<(3 * side * side)).map { _ in Float(0.15 + 0.2 * generator.nextUniform()) })
        let target = try model.responseTarget(voxels: [3, 40, 41, 200])
        let (_, gradient) = try target.valuesAndGradients(x)
        let direction = x.floats.map { _ in Float(generator.nextGaussian()) }
        let h: Float = 1e-3
        func value(_ sign: Float) throws -> Double {
            Double(try target.values(Tensor(shape: x.shape, floats: zip(x.floats, direction).map { $0 + sign * h * $1 }))[0])
        }
        let numeric = (try value(1) - value(-1)) / Double(2 * h)
        let analytic = zip(gradient.floats, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * abs(analytic))
    }

    /// Σ attributions ≈ f(x) − f(baseline) within 1 %, from black. A ReLU network's integrand
    /// jumps wherever a unit switches, so the error falls unevenly with the steps (for the tiny
    /// ResNet's second image: 12 % at 16 steps, 1.2 % at 50, 1.8 % at 128, 0.6 % at 256, 0.2 % at
    /// 512); the steps here are enough for each model. (The pRF model's response
    /// (Σ pRF · contrast)^n has an unbounded slope where the drive nears 0, which any
    /// quadrature meets on the way from black; it is left out.)
    func testCompletenessHoldsWithinOnePercent() throws {
        let cases: [(String, any DifferentiableEncodingModel, Int, Int)] = [
            ("fwrf", try InputGradientTests.fwrf("PPA"), 1, 32), ("img2fmri", try InputGradientTests.img2fmri(), 2, 256),
        ]
        for (name, model, count, steps) in cases {
            let stimulus = NaturalishImages.stimulus(count: count, side: 230, seed: 8)
            let attribution = try model.integratedGradients(model.inputImages(stimulus), steps: steps, method: .gaussLegendre)
            for (i, error) in attribution.completenessErrors.enumerated() {
                XCTAssertLessThan(error, 0.01, "\(name) image \(i): Σ \(attribution.sums[i]) against \(attribution.values[i] - attribution.baselineValues[i])")
            }
        }
    }

    /// Gradients of a subset of voxels are the mean of their single-voxel gradients (the
    /// readout cut down to the selection is the same readout).
    func testVoxelSubsetsAverage() throws {
        let model = try InputGradientTests.fwrf("V1")
        let x = try model.inputImages(NaturalishImages.stimulus(count: 1, side: 227, seed: 2))
        let pair = try model.inputGradient(x, voxels: [1, 4]).gradients.floats
        let one = try model.inputGradient(x, voxels: [1]).gradients.floats
        let four = try model.inputGradient(x, voxels: [4]).gradients.floats
        let scale = pair.map(abs).max()!
        for i in pair.indices { XCTAssertEqual(pair[i], (one[i] + four[i]) / 2, accuracy: 1e-5 * scale) }
        XCTAssertThrowsError(try model.responseTarget(voxels: [6]))
        XCTAssertThrowsError(try model.responseTarget(voxels: []))
    }

    /// A dream's final image drives the target above the best of 50 varied natural-ish images,
    /// and the target rises over the steps.
    func assertDreamWorks(_ model: some DifferentiableEncodingModel, voxels: [Int]? = nil, steps: Int, side: Int,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        // A learning rate above lucent's 0.05 gets there in fewer steps (the tests run unoptimised).
        let settings = DreamSettings(steps: steps, learningRate: 0.2, seed: 1, size: side)
        let start = Date()
        let dream = try model.dream(voxels: voxels, settings: settings)
        print("dream: \(Date().timeIntervalSince(start)) s, target \(dream.meanTrace.first!) → \(dream.meanTrace.last!), final \(dream.finalValues)")
        let images = try model.inputImages(NaturalishImages.stimulus(count: 50, side: side, seed: 21))
        let target = try model.responseTarget(voxels: voxels)
        var best = -Float.infinity
        for start in stride(from: 0, to: 50, by: 10) {
            let batch = try Tensor(shape: [10] + images.shape.dropFirst(),
                                   floats: Array(images.floats[(start * images.count / 50)..<((start + 10) * images.count / 50)]))
            best = max(best, try target.values(batch).max()!)
        }
        let dreamValue = try XCTUnwrap(dream.finalValues.first)
        print("best of 50 natural-ish images: \(best)")
        XCTAssertGreaterThan(dreamValue, best, "the dream against the best of 50 images", file: file, line: line)
        let trace = dream.meanTrace, tenth = max(1, steps / 10)
        let early = trace.prefix(tenth).reduce(0, +) / Float(tenth), late = trace.suffix(tenth).reduce(0, +) / Float(tenth)
        XCTAssertGreaterThan(late, early, "the trace rises", file: file, line: line)
    }

    func testFWRFDreamBeatsNaturalImages() throws {
        try assertDreamWorks(InputGradientTests.fwrf("FFA-1"), steps: 48, side: 227)
    }

    /// The pRF model's best natural images are already near full contrast over its fields, so
    /// only the rise is checked here.
    func testCSSPRFDreamRises() throws {
        let dream = try ExplanationTests.cssPRF().dream(settings: DreamSettings(steps: 16, seed: 1, size: 48))
        XCTAssertGreaterThan(dream.meanTrace.suffix(3).reduce(0, +), dream.meanTrace.prefix(3).reduce(0, +))
    }

    /// Same seed, same image; another seed, another image.
    func testDreamsAreDeterministic() throws {
        let model = try InputGradientTests.img2fmri()
        let settings = DreamSettings(steps: 4, seed: 7, size: 64)
        let a = try model.dream(settings: settings), b = try model.dream(settings: settings)
        XCTAssertEqual(a.bytes, b.bytes)
        XCTAssertEqual(a.trace, b.trace)
        var other = settings
        other.seed = 8
        XCTAssertNotEqual(try model.dream(settings: other).bytes, a.bytes)
    }
}

/// Varied natural-ish test images, made the same way every run: smooth colour fields at
/// several scales, colour ramps, gratings, shapes on a background, and textured fields.
enum NaturalishImages {
    static func stimulus(count: Int, side: Int, seed: UInt64) -> Stimulus {
        var generator = SeededGenerator(seed: seed)
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count * 3 * side * side)
        for k in 0..<count {
            pixels += image(kind: k % 5, side: side, generator: &generator)
        }
        return try! Stimulus(images: pixels, count: count, height: side, width: side, names: (0..<count).map { "image-\($0)" })
    }

    static func image(kind: Int, side: Int, generator g: inout SeededGenerator) -> [UInt8] {
        let plane = side * side
        var rgb = [Float](repeating: 0, count: 3 * plane)
        func colour() -> [Float] { (0..<3).map { _ in Float(g.nextUniform()) } }
        switch kind {
        case 0, 4:  // a smooth field from a coarse grid; with kind 4, pixel noise on top
            let cells = 2 + g.nextIndex(10)
            let grid = (0..<(3 * (cells + 1) * (cells + 1))).map { _ in Float(g.nextUniform()) }
            for c in 0..<3 {
                for y in 0..<side {
                    for x in 0..<side {
                        let fy = Float(y) / Float(side) * Float(cells), fx = Float(x) / Float(side) * Float(cells)
                        let (y0, x0) = (Int(fy), Int(fx)), (ty, tx) = (fy - Float(Int(fy)), fx - Float(Int(fx)))
                        func at(_ a: Int, _ b: Int) -> Float { grid[(c * (cells + 1) + a) * (cells + 1) + b] }
                        let top = at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx, bottom = at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx
                        rgb[c * plane + y * side + x] = top * (1 - ty) + bottom * ty + (kind == 4 ? Float(g.nextGaussian()) * 0.08 : 0)
                    }
                }
            }
        case 1:  // a colour ramp at a random angle
            let (a, b) = (colour(), colour())
            let angle = g.nextUniform() * 2 * Double.pi
            for y in 0..<side {
                for x in 0..<side {
                    let t = Float((cos(angle) * Double(x) + sin(angle) * Double(y)) / Double(side) * 0.7 + 0.5)
                    for c in 0..<3 { rgb[c * plane + y * side + x] = a[c] * (1 - t) + b[c] * t }
                }
            }
        case 2:  // a grating
            let (a, b) = (colour(), colour())
            let angle = g.nextUniform() * Double.pi, cycles = 1 + g.nextUniform() * 20
            for y in 0..<side {
                for x in 0..<side {
                    let phase = (cos(angle) * Double(x) + sin(angle) * Double(y)) / Double(side) * cycles * 2 * Double.pi
                    let t = Float(0.5 + 0.5 * sin(phase))
                    for c in 0..<3 { rgb[c * plane + y * side + x] = a[c] * (1 - t) + b[c] * t }
                }
            }
        default:  // discs on a background
            let background = colour()
            for c in 0..<3 { for p in 0..<plane { rgb[c * plane + p] = background[c] } }
            for _ in 0..<(2 + g.nextIndex(6)) {
                let fill = colour()
                let (cx, cy) = (g.nextUniform() * Double(side), g.nextUniform() * Double(side))
                let r = (0.05 + g.nextUniform() * 0.25) * Double(side)
                for y in 0..<side {
                    for x in 0..<side where (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) < r * r {
                        for c in 0..<3 { rgb[c * plane + y * side + x] = fill[c] }
                    }
                }
            }
        }
        return rgb.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
    }
}

