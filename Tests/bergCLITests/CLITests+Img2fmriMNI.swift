import BERG
import BERGFormats
import BERGRegistry
import Foundation
import XCTest

/// `berg encode img2fmri-bold5000 --space mni` and movie inputs end to end, on the stand-in
/// package of Tools/reference/make_img2fmri_mni_fixtures.py (three subjects, tiny backbone),
/// against its reference.
extension CLITests {
    static let models = root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/img2fmri")
    static let movie = root.appendingPathComponent("Tests/BERGFormatsTests/Fixtures/movie/counter.mp4")

    func encodeMNI(_ extra: [String], input: String, output: URL) throws -> Run {
        try berg(environment: offline, ["encode", "img2fmri-bold5000", "--registry", try img2fmriRegistryForStandIn().path,
                      "--space", "mni", "--option", "roi_list=OPA,PPA", "--input", input, "--output", output.path,
                      "--artifact", "backbone=" + Self.models.appendingPathComponent("e2e/resnet18-tiny.pth").path,
                      "--artifact", "group=" + Self.models.appendingPathComponent("mni/package").path] + extra)
    }

    /// No --subject; the 4-D volume holds the reference's group values at the mask, 0 elsewhere,
    /// and says MNI in its sform code.
    func testMNIGroupVolumeFromImages() throws {
        let output = work.appendingPathComponent("group.nii.gz")
        let run = try encodeMNI(["--sigma", "1.0"], input: Self.models.appendingPathComponent("e2e/images").path, output: output)
        XCTAssertEqual(run.status, 0, run.stderr)
        let image = try NIfTIFile.read(output.path)
        XCTAssertEqual(image.shape, [12, 14, 12, 2])
        XCTAssertEqual(image.header.sformCode, 4)
        let reference = try NPZFile.read(Self.models.appendingPathComponent("mni/reference.npz").path)
        let mask = try XCTUnwrap(reference["overlap_opa_ppa_s1"]).doubles
        let expected = try XCTUnwrap(reference["group_opa_ppa_s1"]).floats
        let maskVoxels = mask.indices.filter { mask[$0] != 0 }
        let values = try image.data().floats  // C order over (x, y, z, image)
        var worst: Float = 0
        for (row, voxel) in maskVoxels.enumerated() {
            for n in 0..<2 { worst = max(worst, abs(values[voxel * 2 + n] - expected[n * maskVoxels.count + row])) }
        }
        XCTAssertLessThan(worst, 1e-3, "group values (z units)")
        XCTAssertEqual(values.filter { $0 != 0 }.count, 2 * maskVoxels.count, "0 outside the mask")
    }

    func testMNIMovieGivesAFrameSeries() throws {
        let output = work.appendingPathComponent("movie.nii.gz"), raw = work.appendingPathComponent("raw.npy")
        var run = try encodeMNI(["--fps", "2"], input: Self.movie.path, output: output)
        XCTAssertEqual(run.status, 0, run.stderr)
        let image = try NIfTIFile.read(output.path)
        XCTAssertEqual(image.shape, [12, 14, 12, 7])
        XCTAssertEqual(image.header.pixdim[4], 0.5, "seconds between volumes")
        // Without the HRF: img2fmri's predict_movie series, which the HRF then turns into the first.
        run = try encodeMNI(["--no-hrf"], input: Self.movie.path, output: raw)
        XCTAssertEqual(run.status, 0, run.stderr)
        let series = try NPYFile.read(raw.path)
        XCTAssertEqual(series.shape[0], 7)
        let convolved = try BERG.convolveWithHRF(EncodingResult(responses: ["responses": series], metadata: Metadata()), fps: 2)
            .responses["responses"]!.floats
        let volume = try image.data().floats
        let reference = try NPZFile.read(Self.models.appendingPathComponent("mni/reference.npz").path)
        let mask = try XCTUnwrap(reference["overlap_opa_ppa_s1"]).doubles
        let maskVoxels = mask.indices.filter { mask[$0] != 0 }
        let width = series.shape[1]
        for (row, voxel) in maskVoxels.enumerated().prefix(50) {
            for t in 0..<7 { XCTAssertEqual(volume[voxel * 7 + t], convolved[t * width + row], accuracy: 1e-4) }
        }
    }

    func testMNIAndMovieUsageErrors() throws {
        let output = work.appendingPathComponent("x.nii.gz")
        // Subject space needs a subject.
        var run = try berg(environment: offline, ["encode", "img2fmri-bold5000", "--roi", "OPA", "--input", Self.movie.path, "--output", output.path])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("needs a subject: one of 1, 2, 3"), run.stderr)
        // An unknown space lists the valid ones.
        run = try berg(environment: offline, ["encode", "img2fmri-bold5000", "--space", "talairach", "--input", Self.movie.path, "--output", output.path])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("subject, mni"), run.stderr)
        // --fps is for movies.
        run = try encodeMNI(["--fps", "2"], input: Self.models.appendingPathComponent("e2e/images").path, output: output)
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("movie"), run.stderr)
        // A model without a voxel grid cannot write a volume.
        run = try berg(environment: offline, ["encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1",
                            "--input", Self.models.appendingPathComponent("e2e/images").path, "--output", output.path])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    /// The group-level files come only with space=mni, and then instead of the one-subject ones.
    func testMNIFilesAreFetchedOnlyForTheMNISpace() throws {
        let plain = try berg(environment: offline, ["get-model", "img2fmri-bold5000", "--subject", "1", "--dry-run"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stdout.contains("T1_to_MNI_nonlin_coeff"), plain.stdout)
        let mni = try berg(environment: offline, ["get-model", "img2fmri-bold5000", "--subject", "1", "--option", "space=mni", "--dry-run"])
        XCTAssertEqual(mni.status, 0, mni.stderr)
        for member in ["sub2.anat/T1_to_MNI_nonlin_coeff.nii.gz", "sub3.anat/T1_nonroi2roi.mat", "group_mni_bool_masks/RSC.nii.gz",
                       "sub-CSI3_ses-16_anat_sub-CSI3_ses-16_T1w.nii.gz", "subj2_PPA_model.pkl"] {
            XCTAssertTrue(mni.stdout.contains(member), member)
        }
    }
}
