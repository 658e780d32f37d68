import BERGCore
import BERGFormats
@testable import BERGModels
import BERGRegistry
import BERGStore
import BERGTestSupport
import Foundation
import XCTest

/// The img2fmri wheel's real Ridge models and masks, fetched once through the store's `pip`
/// source (from PyPI: `make test-network`), against what scikit-learn and nibabel computed from them
/// (Tools/reference/make_img2fmri_fixtures.py).
final class Img2fmriRidgeTests: XCTestCase {
    static let rois = ["EarlyVis", "OPA", "LOC", "RSC", "PPA"]

    /// The wheel's members for a subject, fetched with pip into a cache under .build on first use.
    func packageFolder(subject: Int) throws -> URL {
        let manifest = try Img2fmriFixtures.manifest()
        let home = Img2fmriFixtures.packageRoot.appendingPathComponent(".build/berg-test-home")
        // The backbone is not needed here: a stand-in file keeps the store from fetching it.
        let options = StoreOptions(overrides: ["backbone": URL(fileURLWithPath: #filePath)])
        let files = try ArtifactStore(home: home, options: options)
            .localFiles(for: manifest, subject: Subject(subject), selection: ["roi": "all"])
        return try XCTUnwrap(files["package"])
    }

    /// Readouts already built, so that each pickle is read once per test run.
    nonisolated(unsafe) static var readouts: [String: Img2fmriReadout] = [:]

    func readout(subject: Int, roi: String) throws -> Img2fmriReadout {
        if let cached = Self.readouts["\(subject)/\(roi)"] { return cached }
        let made = try makeReadout(subject: subject, roi: roi)
        Self.readouts["\(subject)/\(roi)"] = made
        return made
    }

    func makeReadout(subject: Int, roi: String) throws -> Img2fmriReadout {
        let manifest = try Img2fmriFixtures.manifest()
        let context = EncoderContext(manifest: manifest, subject: Subject(subject),
                                     selection: ["roi": roi], device: .cpu,
                                     files: ["package": try packageFolder(subject: subject)])
        return try Img2fmriReadout(context: context, settings: SettingsDecoder.decode(Img2fmriSettings.self, from: manifest))
    }

    func testRidgePredictionsMatchScikitLearnForEverySubjectAndROI() throws {
        let features = try NPYFile.read(Img2fmriFixtures.path("features.npy"))
        XCTAssertEqual(features.shape, [3, 512])
        for subject in 1...3 {
            let all = try readout(subject: subject, roi: "all")
            let predicted = try all.predict(features)
            var column = 0
            for roi in Self.rois {
                let expected = try NPYFile.read(Img2fmriFixtures.path("ridge/subj\(subject)_\(roi)_predictions.npy"))
                let voxels = expected.shape[1]
                let ours = columns(predicted, column ..< column + voxels)
                assertClose(ours, expected.floats, relative: 1e-5, "subject \(subject) \(roi)")
                // A single-ROI selection gives the same numbers as its slice of `all`.
                if roi == "OPA" {
                    let single = try readout(subject: subject, roi: roi).predict(features)
                    XCTAssertEqual(single.shape, [3, voxels])
                    assertClose(single.floats, expected.floats, relative: 1e-5, "subject \(subject) \(roi) alone")
                }
                column += voxels
            }
            XCTAssertEqual(column, all.voxelCount)
        }
    }

    func testVoxelOrderCountsAlphaAndAffineMatchNibabel() throws {
        let reference = try Img2fmriFixtures.json("ridge/reference.json")
        for subject in 1...3 {
            let metadata = try readout(subject: subject, roi: "all").metadata
            let ijk = try XCTUnwrap(metadata.tensor("voxel_ijk")).int64s
            let hemisphere = try XCTUnwrap(metadata.tensor("hemisphere")).int64s
            let roiIndex = try XCTUnwrap(metadata.tensor("roi_index")).int64s
            let lhCounts = try XCTUnwrap(metadata.tensor("lh_count")).int64s
            let rhCounts = try XCTUnwrap(metadata.tensor("rh_count")).int64s
            let alphas = try XCTUnwrap(metadata.tensor("ridge_alpha")).doubles
            XCTAssertEqual(metadata["roi_names"], .strings(Self.rois))
            var start = 0
            for (index, roi) in Self.rois.enumerated() {
                let expected = try XCTUnwrap(reference["subj\(subject)_\(roi)"] as? [String: Any])
                let voxels = try NPYFile.read(Img2fmriFixtures.path("ridge/subj\(subject)_\(roi)_voxels.npy")).int64s
                let count = voxels.count / 4
                let range = start ..< start + count
                XCTAssertEqual(Array(ijk[3 * range.lowerBound ..< 3 * range.upperBound]),
                               stride(from: 0, to: voxels.count, by: 4).flatMap { voxels[$0 ..< $0 + 3] },
                               "subject \(subject) \(roi) voxel order")
                XCTAssertEqual(Array(hemisphere[range]), stride(from: 3, to: voxels.count, by: 4).map { voxels[$0] },
                               "subject \(subject) \(roi) hemispheres")
                XCTAssertEqual(Set(roiIndex[range]), [Int64(index)])
                XCTAssertEqual(Int(lhCounts[index]), expected["lh_count"] as? Int)
                XCTAssertEqual(Int(rhCounts[index]), expected["rh_count"] as? Int)
                let alpha = try XCTUnwrap(expected["alpha"] as? Double)
                XCTAssertEqual(alphas[index], alpha, accuracy: 1e-9 * alpha)
                XCTAssertEqual(try XCTUnwrap(metadata.tensor("volume_shape")).int64s.map { Int($0) }, expected["mask_shape"] as? [Int])
                let affine = try XCTUnwrap(expected["affine"] as? [[Double]]).flatMap { $0 }
                let ours = try XCTUnwrap(metadata.tensor("affine")).doubles
                XCTAssertEqual(ours.count, 16)
                // Foundation's JSON parser may miss the last bit of a double, hence the tolerance.
                for (a, b) in zip(ours, affine) { XCTAssertEqual(a, b, accuracy: 1e-9, "subject \(subject) affine") }
                start += count
            }
            XCTAssertEqual(start, hemisphere.count)
        }
        // A single ROI reports its counts and alpha as scalars.
        let single = try readout(subject: 1, roi: "OPA").metadata
        let expected = try XCTUnwrap(reference["subj1_OPA"] as? [String: Any])
        XCTAssertEqual(single["lh_count"], .int(try XCTUnwrap(expected["lh_count"] as? Int)))
        XCTAssertEqual(single["rh_count"], .int(try XCTUnwrap(expected["rh_count"] as? Int)))
        guard case .double(let alpha)? = single["ridge_alpha"] else { return XCTFail("ridge_alpha is not a number") }
        XCTAssertEqual(alpha, try XCTUnwrap(expected["alpha"] as? Double), accuracy: 1e-6)
    }

    /// Every ROI of subject 3 in one volume: overlapping voxels get the plain mean.
    func testAllROIVolumeMatchesTheFixtureIncludingOverlaps() throws {
        let all = try readout(subject: 3, roi: "all")
        let features = try NPYFile.read(Img2fmriFixtures.path("features.npy"))
        let result = EncodingResult(responses: ["responses": try all.predict(features)], metadata: all.metadata,
                                    placement: all.placement)
        let volume = try VoxelVolume(result).tensor()
        guard case .volume(let placement) = all.placement else { return XCTFail("img2fmri places its outputs on a voxel grid") }
        let affine = placement.affine
        let expected = try NIfTIFile.read(Img2fmriFixtures.path("ridge/volume_subj3_all.nii.gz"))
        XCTAssertEqual(volume.shape, expected.shape)
        XCTAssertEqual(affine, expected.affine.flatMap { $0 })
        let ours = volume.floats, theirs = try expected.data().floats
        XCTAssertEqual(ours.count, theirs.count)
        var inside = 0
        for index in ours.indices {
            XCTAssertEqual(ours[index].isNaN, theirs[index].isNaN, "voxel-image \(index)")
            if !theirs[index].isNaN {
                inside += 1
                XCTAssertEqual(ours[index], theirs[index], accuracy: 1e-5 * max(1, abs(theirs[index])))
            }
        }
        // Subject 3's ROIs overlap, so the volume holds fewer voxels than the outputs.
        XCTAssertEqual(inside % 3, 0)
        XCTAssertLessThan(inside / 3, all.voxelCount)
        XCTAssertGreaterThan(inside, 0)
    }
}

/// Paths and helpers shared by the img2fmri tests.
/// The fixtures of this target, and where the wheel's members are cached between runs.
enum Img2fmriFixtures {
    static let folder = FixtureFolder(Bundle.module.resourceURL!.appendingPathComponent("Fixtures/img2fmri"))
    static func path(_ relative: String) -> String { folder.path(relative) }
    static func json(_ relative: String) throws -> [String: Any] { try folder.json(relative) }
    /// The package's root (for a cache that outlives one test run).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static func manifest() throws -> Manifest { try Registry.standard().manifest("img2fmri-bold5000") }
}
