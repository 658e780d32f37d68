import BERG
import BERGModels
import Foundation
import XCTest

/// Checks the CSS pRF model against its equations (contrast image, unit-volume Gaussian pRF,
/// response = gain · drive^n), never against its own earlier output.
final class CSSPRFEncoderTests: XCTestCase {
    static let size = 192

    func encoder(_ roi: String = "V1") throws -> CSSPRFEncoder {
        let manifest = try Registry(directories: []).manifest("fmri-kay2013-css_prf")
        return try CSSPRFEncoder(context: EncoderContext(manifest: manifest, subject: 1, selection: ["roi": roi],
                                                         device: .cpu, files: [:]))
    }

    /// The visual-field position (degrees, y up) of a pixel centre in a square image spanning [−R, R]².
    static func position(row: Int, column: Int, radius: Double) -> (x: Double, y: Double) {
        (((Double(column) + 0.5) / Double(size) * 2 - 1) * radius, (1 - (Double(row) + 0.5) / Double(size) * 2) * radius)
    }

    /// A grey image with white where `inside` holds.
    static func stimulus(_ radius: Double, _ insides: [(Double, Double) -> Bool]) throws -> Stimulus {
        var pixels: [UInt8] = []
        for inside in insides {
            var image = [UInt8](repeating: 128, count: 3 * size * size)
            for row in 0..<size {
                for column in 0..<size {
                    let p = position(row: row, column: column, radius: radius)
                    if inside(p.x, p.y) { for c in 0..<3 { image[c * size * size + row * size + column] = 255 } }
                }
            }
            pixels += image
        }
        return try Stimulus(images: pixels, count: insides.count, height: size, width: size)
    }

    func responses(_ model: CSSPRFEncoder, _ stimulus: Stimulus) throws -> [Float] {
        try model.encode(stimulus).responses["responses"]!.floats
    }

    func testBlankImagesGiveZero() throws {
        let model = try encoder()
        for grey: UInt8 in [127, 128] {
            let blank = try Stimulus(images: [UInt8](repeating: grey, count: 3 * 64 * 80), count: 1, height: 64, width: 80)
            XCTAssertEqual(try responses(model, blank), [Float](repeating: 0, count: model.voxels.count), "grey \(grey)")
        }
    }

    func testFullContrastFieldDrivesACoveredPRFToItsGain() throws {
        // A unit-volume pRF fully inside a full-contrast field has drive ≈ 1, so response ≈ gain.
        let model = try encoder()
        let white = try Stimulus(images: [UInt8](repeating: 255, count: 3 * 64 * 64), count: 1, height: 64, width: 64)
        let contrast = CSSPRFEncoder.contrastImage(white, index: 0, settings: model.settings)
        XCTAssertTrue(contrast.allSatisfy { $0 == 1 }, "white on mean grey is full contrast")
        let drive = model.drive(contrast: contrast)
        let r = try responses(model, white)
        var checked = 0
        for (v, voxel) in model.voxels.enumerated() where voxel.eccentricity + 3 * voxel.sigma < model.settings.fieldRadius {
            XCTAssertEqual(Double(drive[v]), 1, accuracy: 0.03, "voxel \(v) at \(voxel.x), \(voxel.y)")
            XCTAssertEqual(Double(r[v]), voxel.gain * pow(Double(drive[v]), voxel.exponent), accuracy: 1e-5)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testResponseFollowsTheCSSEquation() throws {
        // Independent evaluation at pixel resolution, in Float64, of gain · (Σ G · contrast)^n
        // for a stimulus of two white squares and a black disc.
        let model = try encoder("V2")
        let radius = model.settings.fieldRadius
        let inside: (Double, Double) -> Bool = { x, y in (x > 1 && x < 4 && y > -2 && y < 3) || (x < -2 && x > -5 && y > 0 && y < 2) }
        let stimulus = try Self.stimulus(radius, [inside])
        let r = try responses(model, stimulus)
        let modelDrive = model.drive(contrast: CSSPRFEncoder.contrastImage(stimulus, index: 0, settings: model.settings))
        let pixelArea = pow(2 * radius / Double(Self.size), 2)
        var checked = 0
        for (v, voxel) in model.voxels.enumerated() where voxel.eccentricity > 1.5 {
            var drive = 0.0
            for row in 0..<Self.size {
                for column in 0..<Self.size {
                    let p = Self.position(row: row, column: column, radius: radius)
                    guard inside(p.x, p.y) else { continue }
                    let contrast = min(1, abs(1.0 - 0.5) / 0.5)   // white on mean grey
                    let d2 = (p.x - voxel.x) * (p.x - voxel.x) + (p.y - voxel.y) * (p.y - voxel.y)
                    drive += contrast * exp(-d2 / (2 * voxel.sigma * voxel.sigma)) / (2 * .pi * voxel.sigma * voxel.sigma) * pixelArea
                }
            }
            // The encoder's drive is the integral up to its cell discretisation...
            XCTAssertEqual(Double(modelDrive[v]), drive, accuracy: 0.003 + 0.03 * drive, "voxel \(v)")
            // ...and its response is exactly gain · drive^n.
            XCTAssertEqual(Double(r[v]), voxel.gain * pow(Double(modelDrive[v]), voxel.exponent), accuracy: 1e-5, "voxel \(v)")
            if drive > 0.05 { checked += 1 }
        }
        XCTAssertGreaterThan(checked, 20, "enough voxels see the squares")
    }

    func testAVoxelRespondsMostToAStimulusCoveringItsCentre() throws {
        let model = try encoder()
        let radius = model.settings.fieldRadius
        // Discs of 1° radius centred on a sample of voxels' own centres.
        let sample = Array(stride(from: 24, to: model.voxels.count, by: 23))
        let discs: [(Double, Double) -> Bool] = sample.map { v in
            let c = model.voxels[v]
            return { x, y in (x - c.x) * (x - c.x) + (y - c.y) * (y - c.y) < 1 }
        }
        let r = try responses(model, try Self.stimulus(radius, discs))
        let voxels = model.voxels.count
        for (d, v) in sample.enumerated() {
            let own = r[d * voxels + v]
            for other in sample.indices where other != d {
                XCTAssertGreaterThan(own, r[other * voxels + v], "voxel \(v): its own disc should beat disc \(other)")
            }
        }
    }

    func testSpatialSummationIsCompressive() throws {
        let model = try encoder("V3")
        let radius = model.settings.fieldRadius
        // A voxel on the horizontal meridian; a square of side 4σ centred on it, and its left half.
        guard let v = model.voxels.indices.first(where: { abs(model.voxels[$0].y) < 1e-9 && model.voxels[$0].x > 2 }) else {
            return XCTFail("no voxel on the horizontal meridian")
        }
        let c = model.voxels[v], h = 2 * c.sigma
        let half: (Double, Double) -> Bool = { x, y in x > c.x - h && x < c.x && abs(y - c.y) < h }
        let whole: (Double, Double) -> Bool = { x, y in x > c.x - h && x < c.x + h && abs(y - c.y) < h }
        let r = try responses(model, try Self.stimulus(radius, [half, whole]))
        let ratio = Double(r[model.voxels.count + v] / r[v])
        XCTAssertLessThan(ratio, 1.9, "doubling the area must less than double the response")
        XCTAssertGreaterThan(ratio, 1)
        // Double the drive gives 2^n times the response.
        XCTAssertEqual(ratio, pow(2, c.exponent), accuracy: 0.05)
    }

    func testPRFSizeGrowsWithEccentricityAndAcrossAreas() throws {
        var slopes: [Double] = []
        for roi in ["V1", "V2", "V3", "hV4"] {
            let model = try encoder(roi)
            let voxels = model.voxels.sorted { $0.eccentricity < $1.eccentricity }
            for (a, b) in zip(voxels, voxels.dropFirst()) where b.eccentricity > a.eccentricity + 1e-6 {
                XCTAssertGreaterThan(b.sigma, a.sigma, "\(roi): σ must grow with eccentricity")
            }
            XCTAssertLessThan(voxels[0].exponent, 1, "\(roi): compressive exponent")
            let first = voxels.first!, last = voxels.last!
            slopes.append((last.sigma - first.sigma) / (last.eccentricity - first.eccentricity))
            // Metadata carries the same per-voxel values.
            let meta = model.metadata
            XCTAssertEqual(meta.tensor("prf_sigma_deg")?.floats, model.voxels.map { Float($0.sigma) })
            XCTAssertEqual(meta.tensor("prf_x_deg")?.shape, [model.voxels.count])
            XCTAssertNotNil(meta.tensor("prf_exponent")); XCTAssertNotNil(meta.tensor("prf_gain")); XCTAssertNotNil(meta.tensor("prf_y_deg"))
        }
        XCTAssertEqual(slopes, slopes.sorted(), "σ slopes grow from V1 to hV4")
    }

    func testCentresLieOnALogPolarGridInsideTheField() throws {
        let model = try encoder()
        let s = model.settings
        XCTAssertEqual(model.voxels.count, s.rings * s.polarAngles)
        let eccentricities = stride(from: 0, to: model.voxels.count, by: s.polarAngles).map { model.voxels[$0].eccentricity }
        let ratios = zip(eccentricities, eccentricities.dropFirst()).map { $1 / $0 }
        for ratio in ratios { XCTAssertEqual(ratio, ratios[0], accuracy: 1e-9) }
        XCTAssertEqual(eccentricities.first!, s.eccentricityMin, accuracy: 1e-9)
        XCTAssertEqual(eccentricities.last!, s.eccentricityMax, accuracy: 1e-9)
        XCTAssertTrue(model.voxels.allSatisfy { $0.eccentricity <= s.fieldRadius })
    }

    func testNonSquareImagesUseTheirCentreSquare() throws {
        let model = try encoder()
        // A 64×96 image whose centre 64×64 square is white and whose side bands are black:
        // the bands are cropped away, so it acts as an all-white square image.
        var pixels = [UInt8](repeating: 0, count: 3 * 64 * 96)
        for c in 0..<3 { for row in 0..<64 { for column in 16..<80 { pixels[c * 64 * 96 + row * 96 + column] = 255 } } }
        let wide = try Stimulus(images: pixels, count: 1, height: 64, width: 96)
        let square = try Stimulus(images: [UInt8](repeating: 255, count: 3 * 64 * 64), count: 1, height: 64, width: 64)
        XCTAssertEqual(try responses(model, wide), try responses(model, square))
    }

    func testUnknownSettingIsAManifestError() throws {
        var manifest = try Registry(directories: []).manifest("fmri-kay2013-css_prf")
        manifest.encoder.settings["contrast_grdi"] = .int(10)
        XCTAssertThrowsError(try CSSPRFEncoder(context: EncoderContext(manifest: manifest, subject: 1, selection: ["roi": "V1"],
                                                                       device: .cpu, files: [:]))) { error in
            guard case BERGError.invalidManifest(_, let keyPath, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(keyPath, "encoder.settings.contrast_grdi")
        }
    }
}
