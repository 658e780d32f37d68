import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import Foundation
import XCTest

/// `berg encode fmri-nsd-fwrf` end to end on the fixture BERG directory (made by
/// Tools/reference/make_fwrf_fixtures.py): --berg-dir, an .npy image array, --metadata into
/// the .h5, and --volume as NIfTI; responses against PyTorch's.
extension CLITests {
    func testFWRFEncodeWithBergDirWritesResponsesMetadataAndVolume() throws {
        let fixtures = CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/fwrf")
        try ArchiveExtractor.extract(fixtures.appendingPathComponent("berg_dir.tar.xz"), into: work)
        let bergDir = work.appendingPathComponent("berg_dir")
        let output = work.appendingPathComponent("v1.h5").path
        let volume = work.appendingPathComponent("v1.nii.gz").path
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]

        let run = try berg("encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--berg-dir", bergDir.path,
                               "--input", bergDir.appendingPathComponent("images_233.npy").path,
                               "--output", output, "--metadata", "--volume", volume, environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)

        let file = try HDF5File(path: output, mode: .read)
        defer { try? file.close() }
        let responses = try file.read("responses")
        let expected = try NPYFile.read(fixtures.appendingPathComponent("responses_V1_233.npy").path)
        XCTAssertEqual(responses.shape, [3, 5])
        let scale = expected.floats.map(abs).max() ?? 0
        for (a, b) in zip(responses.floats, expected.floats) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale) }
        XCTAssertEqual(try file.read("metadata/fmri/roi_mask_volume").shape, [81, 104, 83])
        XCTAssertEqual(try file.read("metadata/encoding_models/r2").shape, [5])

        let image = try NIfTIFile.read(volume)
        XCTAssertEqual(image.shape, [81, 104, 83, 3])
        XCTAssertEqual(try image.data().floats.filter { !$0.isNaN }.count, 15)
    }

    /// `berg bench fmri-nsd-fwrf` (the spelling) times the model on a BERG directory;
    /// without one it says what it needs.
    func testBenchFWRFOnABergDirectory() throws {
        let fixtures = CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/fwrf")
        try ArchiveExtractor.extract(fixtures.appendingPathComponent("berg_dir.tar.xz"), into: work)
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]
        let run = try berg("bench", "fmri-nsd-fwrf", "--berg-dir", work.appendingPathComponent("berg_dir").path,
                           "--roi", "V1", "--batch", "2", "--repeats", "1", "--threads", "1", environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("berg fwrf roi=V1 voxels=5 batch=2"), run.stdout)
        XCTAssertTrue(run.stdout.contains("images/s"), run.stdout)
        assertFails(try berg("bench", "fmri-nsd-fwrf"), status: 2, mentioning: "needs --berg-dir")
        assertFails(try berg("bench", "fmri-nope", "--berg-dir", work.path), status: 2, mentioning: "Models: fmri-nsd-fwrf")
    }

    func testFWRFMissingBergDirFileOfflineNamesIt() throws {
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]
        let images = try writeImages()
        let run = try berg("encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V2", "--berg-dir", work.path,
                               "--input", images.path, "--output", work.appendingPathComponent("o.h5").path,
                               environment: environment)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("weights_sub-01_roi-V2.pt"), run.stderr)
    }
}
