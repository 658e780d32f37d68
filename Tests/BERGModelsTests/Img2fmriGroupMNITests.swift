import BERGCore
import BERGFormats
@testable import BERGModels
import BERGRegistry
import BERGTestSupport
import Foundation
import XCTest

/// img2fmri's group-level MNI pipeline against the reference that
/// Tools/reference/make_img2fmri_mni_fixtures.py builds from fslpy (FNIRT, FLIRT), NumPy
/// (AFNI's nearest-neighbour rule), SciPy (FSL's smoothing) and img2fmri's own code, on a
/// small stand-in package in the wheel's formats: three subjects, ROIs OPA, LOC and PPA.
final class Img2fmriGroupMNITests: XCTestCase {
    static var mni: URL { Img2fmriFixtures.folder.appendingPathComponent("mni") }
    static var package: URL { mni.appendingPathComponent("package") }
    static func path(_ member: String) -> String { package.appendingPathComponent(member).path }

    func reference() throws -> [String: Tensor] {
        try NPZFile.read(Self.mni.appendingPathComponent("reference.npz").path)
    }

    func group(rois: [String], sigma: Double, centerCrop: Bool = false) throws -> Img2fmriGroupMNI {
        let manifest = try Img2fmriFixtures.manifest()
        let context = EncoderContext(
            manifest: manifest, subject: 1, selection: ["roi": "all"],
            options: ["center_crop": .bool(centerCrop), "space": "mni"], device: .auto,
            files: ["group": Self.package,
                    "backbone": Img2fmriFixtures.folder.appendingPathComponent("e2e/resnet18-tiny.pth")])
        return try Img2fmriGroupMNI(context: context, settings: SettingsDecoder.decode(Img2fmriSettings.self, from: manifest),
                                    rois: rois, sigma: sigma)
    }

    // MARK: - Conventions

    func testFSLCoordinatesMatchFslpyForEveryOrientation() throws {
        let conventions = try Img2fmriFixtures.json("mni/conventions.json")
        let cases = try XCTUnwrap(conventions["flirt"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for item in cases {
            let name = try XCTUnwrap(item["name"] as? String)
            let bytes = try XCTUnwrap(item["header"] as? [Int]).map { UInt8($0) }
            let header = try NIfTIFile.parseHeader(Data(bytes), path: name)
            let grid = try VolumeGrid(header: header, path: name)
            let expected = try XCTUnwrap(item["voxel_to_fsl"] as? [[Double]])
            for (row, want) in zip(grid.voxelToFSL.rows, expected) {
                for (a, b) in zip(row, want) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(name): \(grid.voxelToFSL) vs \(expected)") }
            }
        }
    }

    func testSplineDisplacementsMatchFslpy() throws {
        let conventions = try Img2fmriFixtures.json("mni/conventions.json")
        let fnirt = try XCTUnwrap(conventions["fnirt"] as? [String: Any])
        let points = try XCTUnwrap(fnirt["points"] as? [[Double]])
        let expected = try XCTUnwrap(fnirt["displacements"] as? [[Double]])
        let field = try FNIRTCoefficientField.read(Self.path("img2fmri/derivatives/sub1.anat/T1_to_MNI_nonlin_coeff.nii.gz"))
        XCTAssertEqual(field.coefficientShape, [7, 7, 7])
        XCTAssertEqual(field.knotSpacing, SIMD3(3, 3, 3))
        XCTAssertEqual(field.referenceShape, [12, 14, 12])
        for (p, want) in zip(points, expected) {
            let d = field.displacement(atReferenceVoxel: SIMD3(p[0], p[1], p[2]))
            for c in 0..<3 { XCTAssertEqual(d[c], want[c], accuracy: 1e-6, "displacement at \(p)") }
        }
    }

    func testFLIRTMatrixFileAndBadInput() throws {
        let matrix = try FLIRTMatrix.read(Self.path("img2fmri/derivatives/sub1.anat/T1_nonroi2roi.mat"))
        XCTAssertEqual(matrix.transform.translation.z, -2, accuracy: 1e-9)
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).mat")
        defer { try? FileManager.default.removeItem(at: bad) }
        try Data("1 0 0\n0 1 0\n".utf8).write(to: bad)
        XCTAssertThrowsError(try FLIRTMatrix.read(bad.path)) { error in
            XCTAssertTrue("\(error)".contains("4 rows of 4 numbers"), "\(error)")
        }
        // A mask is not a coefficient field.
        XCTAssertThrowsError(try FNIRTCoefficientField.read(Self.path("img2fmri/derivatives/group_mni_bool_masks/OPA.nii.gz"))) { error in
            XCTAssertTrue("\(error)".contains("intent_code"), "\(error)")
        }
    }

    // MARK: - Steps, for the first image

    /// Subject volumes → AFNI's resample → FSL's warp → FSL's smoothing, each against the
    /// reference, from the reference's own input of each step.
    func testEachStepMatchesTheReference() throws {
        let reference = try reference()
        let model = try group(rois: ["OPA", "PPA"], sigma: 1.0)
        let features = try XCTUnwrap(reference["features"])
        let first = try Tensor(shape: [1, features.shape[1]], floats: Array(features.floats.prefix(features.shape[1])))
        for (index, projection) in model.projections.enumerated() {
            let s = index + 1
            // AFNI: the float32 volume with NaN → 0, onto the T1 grid.
            let volume = try XCTUnwrap(reference["subject\(s)_volume"]).floats.map { $0.isNaN ? 0 : $0 }
            let t1 = try VolumeGrid.read(Self.path("img2fmri/derivatives/T1/sub-CSI\(s)_ses-16_anat_sub-CSI\(s)_ses-16_T1w.nii.gz"))
            let subjectGrid = projection.route.subjectGrid
            let onT1 = try VolumeResampler.afniNearest(input: subjectGrid, master: t1).apply(volume)
            XCTAssertEqual(onT1, try XCTUnwrap(reference["subject\(s)_t1"]).floats, "subject \(s): AFNI resample")

            // The whole route to MNI from the Ridge outputs (running nanmean included).
            let outputs = try projection.readout.predict(first).floats
            let warped = try model.warpedVolume(subjectIndex: index, outputs: outputs)
            let expected = try XCTUnwrap(reference["subject\(s)_mni"]).floats
            XCTAssertEqual(warped.indices.filter { warped[$0] != 0 }, expected.indices.filter { expected[$0] != 0 },
                           "subject \(s): the nonzero voxels after the warp")
            assertClose(warped, expected, relative: 1e-5, "subject \(s): warped values")

            // FSL's smoothing on the reference's warped volume.
            let smoothing = try GaussianSmoothing(sigma: 1.0, grid: model.reference)
            assertClose(try smoothing.apply(expected), try XCTUnwrap(reference["subject\(s)_smoothed"]).floats,
                                         relative: 1e-5, "subject \(s): smoothing")
        }
    }

    // MARK: - The group average

    func check(label: String, rois: [String], sigma: Double) throws {
        let reference = try reference()
        let model = try group(rois: rois, sigma: sigma)
        let mask = try XCTUnwrap(reference["overlap_\(label)"]).doubles
        XCTAssertEqual(model.maskVoxels, mask.indices.filter { mask[$0] != 0 }, "\(label): the overlap mask")
        let result = try model.predict(features: try XCTUnwrap(reference["features"])).floats
        let expected = try XCTUnwrap(reference["group_\(label)"]).floats
        XCTAssertEqual(result.count, expected.count)
        assertClose(result, expected, relative: 1e-5, "\(label): group values")
        XCTAssertGreaterThan(Img2fmriFixtures.pearson(result, expected), 0.999999, label)
    }

    func testGroupAverageMatchesTheReference() throws {
        try check(label: "opa_ppa_s1", rois: ["OPA", "PPA"], sigma: 1.0)
    }

    /// img2fmri's running nanmean weighs later ROIs more where three overlap, so the order of
    /// the ROI list matters, and is kept.
    func testROIOrderIsKept() throws {
        try check(label: "opa_loc_ppa_s1", rois: ["OPA", "LOC", "PPA"], sigma: 1.0)
        try check(label: "ppa_loc_opa_s1", rois: ["PPA", "LOC", "OPA"], sigma: 1.0)
        let reference = try reference()
        let a = try XCTUnwrap(reference["group_opa_loc_ppa_s1"]).floats, b = try XCTUnwrap(reference["group_ppa_loc_opa_s1"]).floats
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 1e-3, "the fixture's three ROIs overlap")
    }

    func testOtherSigmaAndOneROI() throws {
        try check(label: "ppa_s125", rois: ["PPA"], sigma: 1.25)
    }

    /// Images → tiny ResNet → group, as `encode` runs it, against the reference's features path.
    func testEncodeFromImages() throws {
        let reference = try reference()
        let model = try group(rois: ["OPA", "PPA"], sigma: 1.0)
        let expected = try XCTUnwrap(reference["group_opa_ppa_s1"]).floats
        let voxels = model.maskVoxels.count
        for (row, name) in ["photo.jpg", "scene.png"].enumerated() {
            let stimulus = try StimulusLoader.load(Img2fmriFixtures.path("e2e/images/\(name)"))
            let result = try model.encode(stimulus)
            let responses = try XCTUnwrap(result.responses["responses"])
            XCTAssertEqual(responses.shape, [1, voxels])
            assertClose(responses.floats, Array(expected[row * voxels ..< (row + 1) * voxels]),
                                         relative: 1e-4, name)
            XCTAssertEqual(result.metadata["space"], .string("mni"))
            XCTAssertEqual(result.metadata.tensor("volume_shape")?.int64s, [12, 14, 12])
        }
    }

    /// The volume has the group values at the mask's voxels and 0 (not NaN) elsewhere.
    func testVolumeIsZeroOutsideTheMask() throws {
        let model = try group(rois: ["OPA", "PPA"], sigma: 1.0)
        let stimulus = try StimulusLoader.load(Img2fmriFixtures.path("e2e/images/scene.png"))
        let result = try model.encode(stimulus)
        let volume = try VoxelVolume(result).tensor()
        XCTAssertEqual(volume.shape, [12, 14, 12, 1])
        guard case .volume(let placement)? = result.placement else { return XCTFail("no volume placement") }
        XCTAssertEqual(placement.affine, model.reference.voxelToWorld.rows.flatMap { $0 })
        let values = volume.floats
        XCTAssertFalse(values.contains { $0.isNaN })
        let responses = try XCTUnwrap(result.responses["responses"]).floats
        for (v, voxel) in model.maskVoxels.enumerated() { XCTAssertEqual(values[voxel], responses[v]) }
        XCTAssertEqual(values.filter { $0 != 0 }.count, model.maskVoxels.count)
    }

    func testBadROIAndSigmaAreUsageErrors() throws {
        XCTAssertThrowsError(try group(rois: ["OPA", "FFA"], sigma: 1)) { error in
            guard case BERGError.invalidParameter(_, "roi", "FFA", let valid) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(valid.contains("PPA"))
        }
        XCTAssertThrowsError(try group(rois: ["OPA"], sigma: 0)) { error in
            guard case BERGError.invalidParameter(_, "sigma", _, _) = error else { return XCTFail("\(error)") }
        }
    }

}

extension Img2fmriFixtures {
    static func pearson(_ a: [Float], _ b: [Float]) -> Double {
        let x = a.map(Double.init), y = b.map(Double.init)
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (p, q) in zip(x, y) { sxy += (p - mx) * (q - my); sxx += (p - mx) * (p - mx); syy += (q - my) * (q - my) }
        return sxy / (sxx * syy).squareRoot()
    }
}
