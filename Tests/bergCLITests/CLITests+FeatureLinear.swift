import BERG
@testable import BERGFormats
import BERGStore
import Foundation
import XCTest

/// `berg encode` of BERG's ViT-B/32 models end to end on the fixture BERG directory (made by
/// Tools/reference/make_vit_fixtures.py): .npz and --surface for fsaverage, .h5 labels for
/// EEG, and the usage errors (exit 2) the issue names.
extension CLITests {
    var vitFixtures: URL { CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/vit") }

    /// The fixture BERG directory unpacked into the work folder, and the flags that use it.
    func vitBergDir() throws -> (dir: URL, flags: [String], environment: [String: String]) {
        try ArchiveExtractor.extract(vitFixtures.appendingPathComponent("berg_dir.tar.xz"), into: work)
        let dir = work.appendingPathComponent("berg_dir")
        return (dir, ["--berg-dir", dir.path, "--artifact", "backbone=\(dir.appendingPathComponent("backbone.pth").path)"],
                ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"])
    }

    func bergEncode(_ arguments: [String], environment: [String: String]) throws -> Run {
        try berg(environment: environment, ["encode"] + arguments)
    }

    func testFsaverageWritesNPZAndGIfTI() throws {
        let (dir, flags, environment) = try vitBergDir()
        let output = work.appendingPathComponent("v1v.npz").path
        let prefix = work.appendingPathComponent("v1v").path
        let run = try bergEncode(["fmri-nsd_fsaverage-vit_b_32", "--subject", "1", "--roi", "V1v", "--input",
                                  dir.appendingPathComponent("images_256.npy").path, "--output", output, "--surface", prefix] + flags,
                                 environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("v1v.lh.func.gii"), run.stderr)
        let arrays = try NPZFile.read(output)
        XCTAssertEqual(Set(arrays.keys), ["lh", "rh"])
        for side in ["lh", "rh"] {
            let expected = try NPYFile.read(vitFixtures.appendingPathComponent("expected/fsaverage_V1v_\(side).npy").path)
            XCTAssertEqual(arrays[side]?.shape, expected.shape)
            let scale = expected.floats.map(abs).max() ?? 0
            for (a, b) in zip(arrays[side]?.floats ?? [], expected.floats) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale) }
            let gifti = try String(contentsOfFile: "\(prefix).\(side).func.gii", encoding: .utf8)
            XCTAssertTrue(gifti.contains(#"NumberOfDataArrays="2""#), side)
            XCTAssertEqual(gifti.components(separatedBy: #"Dim0="163842""#).count, 3, side)
            XCTAssertTrue(gifti.contains(#"DataType="NIFTI_TYPE_FLOAT32""#), side)
        }
    }

    /// A two-output model's `.h5` holds `responses/lh` and `responses/rh`; vertex masks given
    /// with --select, and the GIfTI files hold those responses at the masked vertices, NaN elsewhere.
    func testFsaverageH5HoldsResponsesLhAndRhAndMaskedGIfTI() throws {
        let (dir, flags, environment) = try vitBergDir()
        let output = work.appendingPathComponent("masks.h5").path
        let prefix = work.appendingPathComponent("masks").path
        let run = try bergEncode(["fmri-nsd_fsaverage-vit_b_32", "--subject", "1",
                                  "--select", "lh_vertices=\(dir.appendingPathComponent("lh_mask.npy").path)",
                                  "--select", "rh_vertices=\(dir.appendingPathComponent("rh_mask.npy").path)",
                                  "--input", dir.appendingPathComponent("images_320.npy").path, "--output", output, "--surface", prefix] + flags,
                                 environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: output, mode: .read)
        defer { try? file.close() }
        XCTAssertEqual(try file.children(of: "responses").sorted(), ["lh", "rh"])
        for side in ["lh", "rh"] {
            let written = try file.read("responses/\(side)")
            let expected = try NPYFile.read(vitFixtures.appendingPathComponent("expected/fsaverage_masks_\(side).npy").path)
            XCTAssertEqual(written.shape, expected.shape, side)
            let scale = expected.floats.map(abs).max() ?? 0
            for (a, b) in zip(written.floats, expected.floats) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale, side) }
            // The surface: one array per image over all vertices, the responses where the mask is nonzero.
            let mask = try NPYFile.read(dir.appendingPathComponent("\(side)_mask.npy").path).doubles
            let vertices = mask.indices.filter { mask[$0] != 0 }
            let gifti = try String(contentsOfFile: "\(prefix).\(side).func.gii", encoding: .utf8)
            let arrays = try gifti.components(separatedBy: "<Data>").dropFirst()
                .map { try GIfTIFile.decodeData($0.components(separatedBy: "</Data>")[0], count: 163_842) }
            XCTAssertEqual(arrays.count, 2, side)
            let columns = written.shape[1]
            for (image, values) in arrays.enumerated() {
                XCTAssertEqual(values.filter { !$0.isNaN }.count, vertices.count, side)
                XCTAssertEqual(vertices.map { values[$0] }, Array(written.floats[image * columns ..< (image + 1) * columns]), side)
            }
        }
    }

    func testFsaverageToNPYIsAUsageErrorNamingNPZAndH5() throws {
        let (dir, flags, environment) = try vitBergDir()
        let run = try bergEncode(["fmri-nsd_fsaverage-vit_b_32", "--subject", "1", "--input", dir.appendingPathComponent("images_256.npy").path,
                                  "--output", work.appendingPathComponent("out.npy").path] + flags, environment: environment)
        assertFails(run, status: 2, mentioning: ".npz")
        XCTAssertTrue(run.stderr.contains(".h5"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("out.npy").path))
    }

    func testEEGH5HoldsChannelNamesAndTimesOfTheSelection() throws {
        let (dir, flags, environment) = try vitBergDir()
        let output = work.appendingPathComponent("eeg.h5").path
        let run = try bergEncode(["eeg-things_eeg_2-vit_b_32", "--subject", "1", "--select", "channels=Oz,Cz,Fp1", "--select", "timepoints=20:60",
                                  "--input", dir.appendingPathComponent("images_240x300.npy").path, "--output", output] + flags,
                                 environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: output, mode: .read)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("responses").shape, [2, 4, 3, 40])
        XCTAssertEqual(try file.readStrings("ch_names"), ["Oz", "Cz", "Fp1"])
        let times = try file.read("times").doubles
        XCTAssertEqual(times.count, 40)
        XCTAssertEqual(times[0], 0, accuracy: 1e-9)
        XCTAssertEqual(times[39], 0.195, accuracy: 1e-9)
    }

    func testViTBadInputsExitTwo() throws {
        let (dir, flags, environment) = try vitBergDir()
        let images = dir.appendingPathComponent("images_256.npy").path
        func encode(_ model: String, _ extra: [String], output: String = "out.h5") throws -> Run {
            try bergEncode([model, "--subject", "1", "--input", images, "--output", work.appendingPathComponent(output).path] + extra + flags,
                           environment: environment)
        }
        assertFails(try encode("fmri-nsd_fsaverage-vit_b_32", ["--select", "lh_vertices=\(dir.appendingPathComponent("short_mask.npy").path)"]),
                    status: 2, mentioning: "the mask must hold 163842")
        assertFails(try encode("eeg-things_eeg_2-vit_b_32", ["--select", "channels=Oz,Nope"]), status: 2, mentioning: "unknown name 'Nope'. Valid names: Fp1")
        assertFails(try encode("eeg-things_eeg_2-vit_b_32", ["--select", "timepoints=60:20"]), status: 2, mentioning: "selects none of the 140 times")
        assertFails(try encode("eeg-things_eeg_2-vit_b_32", ["--roi", "V1"]), status: 2, mentioning: "unknown selection key 'roi'")
        assertFails(try encode("eeg-things_eeg_2-vit_b_32", ["--surface", work.appendingPathComponent("s").path]),
                    status: 2, mentioning: "not placed on a surface mesh")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work.path).sorted(), ["berg_dir"], "no output left behind")
    }
}
