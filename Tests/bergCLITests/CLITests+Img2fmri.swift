import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import Foundation
import XCTest

/// `berg encode img2fmri-bold5000` end to end: `--artifact` for both files, `--option
/// center_crop=true`, `--volume`, against the PyTorch reference of
/// Tools/reference/make_img2fmri_fixtures.py (tiny backbone, stand-in package).
extension CLITests {
    static let img2fmriFixtures = root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/img2fmri/e2e")
    var offline: [String: String] { ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"] }

    /// The built-in manifest with the wheel's checksum and size removed, in a user registry
    /// folder (which overrides the built-in id), so that the stand-in package folder is accepted.
    func img2fmriRegistryForStandIn() throws -> URL {
        let text = try XCTUnwrap(BuiltinManifests.files.first { $0.name == "img2fmri-bold5000.yaml" }).text
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("    sha256: ") && $0.range(of: #"^    size: \d+$"#, options: .regularExpression) == nil }
        let folder = work.appendingPathComponent("registry")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try lines.joined(separator: "\n").write(to: folder.appendingPathComponent("img2fmri-bold5000.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    func testImg2fmriEncodeWithCentreCropOptionAndVolume() throws {
        let output = work.appendingPathComponent("out.npy"), volume = work.appendingPathComponent("out.nii.gz")
        let run = try berg(environment: offline, [
            "encode", "img2fmri-bold5000", "--registry", try img2fmriRegistryForStandIn().path,
            "--subject", "1", "--roi", "OPA", "--option", "center_crop=true",
            "--input", Self.img2fmriFixtures.appendingPathComponent("images/photo.jpg").path,
            "--output", output.path, "--volume", volume.path,
            "--artifact", "backbone=" + Self.img2fmriFixtures.appendingPathComponent("resnet18-tiny.pth").path,
            "--artifact", "package=" + Self.img2fmriFixtures.appendingPathComponent("package").path,
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        let responses = try NPYFile.read(output.path)
        let expected = try NPYFile.read(Self.img2fmriFixtures.appendingPathComponent("responses_center_crop.npy").path)
        let voxels = expected.shape[1]
        XCTAssertEqual(responses.shape, [1, voxels])
        let target = Array(expected.floats[0..<voxels])  // photo.jpg is the first image
        let scale = target.map(abs).max() ?? 1
        for (a, b) in zip(responses.floats, target) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale) }

        let image = try NIfTIFile.read(volume.path)
        XCTAssertEqual(image.shape, [7, 6, 5, 1])
        let values = try image.data().floats
        XCTAssertEqual(values.filter { !$0.isNaN }.count, voxels)
        XCTAssertEqual(values.filter { !$0.isNaN }.sorted(), responses.floats.sorted())
    }

    func testImg2fmriUnknownOptionValueIsAUsageError() throws {
        let run = try berg(environment: offline, [
            "encode", "img2fmri-bold5000", "--subject", "1", "--roi", "OPA", "--option", "center_crop=maybe",
            "--input", Self.img2fmriFixtures.appendingPathComponent("images/scene.png").path,
            "--output", work.appendingPathComponent("out.npy").path,
        ])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix("error: ") && run.stderr.contains("false, true"), run.stderr)
    }
}
