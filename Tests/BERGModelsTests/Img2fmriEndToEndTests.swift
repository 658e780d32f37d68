import BERGCore
import BERGFormats
@testable import BERGModels
import BERGRegistry
import BERGTestSupport
import Foundation
import XCTest

/// Image files → img2fmri's preprocessing → a small random ResNet-18 in torchvision's `.pth`
/// layout → a Ridge pickle → voxels, against PyTorch + torchvision + Pillow + scikit-learn
/// (Tools/reference/make_img2fmri_fixtures.py). The package folder is a stand-in for the wheel
/// with subject 1's OPA files only.
final class Img2fmriEndToEndTests: XCTestCase {
    func encoder(centerCrop: Bool, roi: String = "OPA") throws -> Img2fmriEncoder {
        let context = EncoderContext(
            manifest: try Img2fmriFixtures.manifest(), subject: 1,
            selection: ["roi": roi], options: ["center_crop": .bool(centerCrop)], device: .auto,
            files: ["package": Img2fmriFixtures.folder.appendingPathComponent("e2e/package"),
                    "backbone": Img2fmriFixtures.folder.appendingPathComponent("e2e/resnet18-tiny.pth")])
        return try Img2fmriEncoder(context: context)
    }

    func check(centerCrop: Bool) throws {
        let mode = centerCrop ? "center_crop" : "resize"
        let reference = try Img2fmriFixtures.json("e2e/reference.json")
        let names = try XCTUnwrap(reference["images"] as? [String])
        let expected = try NPYFile.read(Img2fmriFixtures.path("e2e/responses_\(mode).npy"))
        let model = try encoder(centerCrop: centerCrop)
        let voxels = expected.shape[1]
        // The two images differ in size, so each is its own stimulus.
        for (row, name) in names.enumerated() {
            let stimulus = try StimulusLoader.load(Img2fmriFixtures.path("e2e/images/\(name)"))
            XCTAssertNotEqual(stimulus.height, stimulus.width, "\(name) is meant to be non-square")
            let result = try model.encode(stimulus)
            let responses = try XCTUnwrap(result.responses["responses"])
            XCTAssertEqual(responses.shape, [1, voxels])
            XCTAssertEqual(responses.dtype, .float32)
            let target = Array(expected.floats[row * voxels ..< (row + 1) * voxels])
            assertClose(responses.floats, target, relative: 1e-4, "\(mode) \(name)")
            XCTAssertEqual(result.metadata["center_crop"], .bool(centerCrop))
        }
    }

    func testResizedImagesMatchPyTorch() throws { try check(centerCrop: false) }

    func testCentreCroppedImagesMatchPyTorch() throws { try check(centerCrop: true) }

    /// The two preprocessing modes give different answers, so the option is not ignored.
    func testCentreCropChangesTheResponses() throws {
        let stimulus = try StimulusLoader.load(Img2fmriFixtures.path("e2e/images/photo.jpg"))
        let plain = try XCTUnwrap(try encoder(centerCrop: false).encode(stimulus).responses["responses"]).floats
        let cropped = try XCTUnwrap(try encoder(centerCrop: true).encode(stimulus).responses["responses"]).floats
        let difference = zip(plain, cropped).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(difference, 1e-3)
    }

    func testMetadataPlacesEachOutputOnTheMaskGrid() throws {
        let reference = try Img2fmriFixtures.json("e2e/reference.json")
        let metadata = try encoder(centerCrop: false).metadata
        let voxels = try XCTUnwrap(reference["voxels"] as? [[Int]])
        XCTAssertEqual(try XCTUnwrap(metadata.tensor("voxel_ijk")).int64s.map { Int($0) }, voxels.flatMap { $0.prefix(3) })
        XCTAssertEqual(try XCTUnwrap(metadata.tensor("hemisphere")).int64s.map { Int($0) }, voxels.map { $0[3] })
        XCTAssertEqual(metadata["lh_count"], .int(try XCTUnwrap(reference["lh_count"] as? Int)))
        XCTAssertEqual(metadata["rh_count"], .int(try XCTUnwrap(reference["rh_count"] as? Int)))
        XCTAssertEqual(metadata["ridge_alpha"], .double(0.5))
        let affine = try XCTUnwrap(reference["affine"] as? [[Double]]).flatMap { $0 }
        XCTAssertEqual(try XCTUnwrap(metadata.tensor("affine")).doubles, affine)
    }

    /// The volume holds each output at its voxel and NaN everywhere else.
    func testVolumeHoldsTheResponsesAtTheirVoxels() throws {
        let model = try encoder(centerCrop: false)
        let stimulus = try StimulusLoader.load(Img2fmriFixtures.path("e2e/images/scene.png"))
        let result = try model.encode(stimulus)
        let volume = try VoxelVolume(result).tensor()
        let shape = try XCTUnwrap(Img2fmriFixtures.json("e2e/reference.json")["mask_shape"] as? [Int])
        XCTAssertEqual(volume.shape, shape + [1])
        let responses = try XCTUnwrap(result.responses["responses"]).floats
        let ijk = try XCTUnwrap(result.metadata.tensor("voxel_ijk")).int64s.map { Int($0) }
        var filled = Set<Int>()
        for v in responses.indices {
            let cell = (ijk[3 * v] * shape[1] + ijk[3 * v + 1]) * shape[2] + ijk[3 * v + 2]
            XCTAssertEqual(volume.floats[cell], responses[v])
            filled.insert(cell)
        }
        XCTAssertEqual(volume.floats.enumerated().filter { !filled.contains($0.offset) }.allSatisfy { $0.element.isNaN }, true)
    }

    /// A package whose voxel-count table disagrees with its masks is refused, naming the file.
    func testCountsThatDisagreeWithTheMasksAreRefused() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("img2fmri-package-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(at: Img2fmriFixtures.folder.appendingPathComponent("e2e/package"), to: copy)
        let countsPath = copy.appendingPathComponent("img2fmri/derivatives/shape_array.npy").path
        var counts = try NPYFile.read(countsPath).doubles
        counts[2] += 1  // subject 1, OPA, LH
        try NPYFile.write(try Tensor(shape: [3, 5, 2], doubles: counts), to: countsPath)
        let context = EncoderContext(
            manifest: try Img2fmriFixtures.manifest(), subject: 1, selection: ["roi": "OPA"],
            device: .cpu,
            files: ["package": copy, "backbone": Img2fmriFixtures.folder.appendingPathComponent("e2e/resnet18-tiny.pth")])
        XCTAssertThrowsError(try Img2fmriEncoder(context: context)) { error in
            XCTAssertTrue("\(error)".contains("do not belong together"), "\(error)")
        }
    }

    func testMissingROIFilesAndWrongBackboneAreClearErrors() throws {
        // The stand-in package holds OPA only: another ROI names the file it looked for.
        XCTAssertThrowsError(try encoder(centerCrop: false, roi: "PPA")) { error in
            XCTAssertTrue("\(error)".contains("subj1_PPA_model.pkl"), "\(error)")
        }
        // A backbone whose width does not fit the Ridge.
        let wrong = EncoderContext(
            manifest: try Img2fmriFixtures.manifest(), subject: 1, selection: ["roi": "OPA"],
            device: .cpu,
            files: ["package": Img2fmriFixtures.folder.appendingPathComponent("e2e/package"),
                    "backbone": Img2fmriFixtures.folder.appendingPathComponent("e2e/package/img2fmri/models/subj1_OPA_model.pkl")])
        XCTAssertThrowsError(try Img2fmriEncoder(context: wrong))
    }
}
