import BERG
import BERGCore
import BERGFormats
import BERGRegistry
import BERGStore
import BERGTestSupport
@testable import BERGModels
import Foundation
import XCTest

/// The group pipeline on the real img2fmri 1.0 wheel (its `group` files fetched from PyPI
/// through the store's `pip` source), its movie, and img2fmri's own test properties with the
/// real ResNet-18 weights (fetched from download.pytorch.org): `make test-network`.
final class Img2fmriMNITests: XCTestCase {
    static var home: URL { Img2fmriFixtures.packageRoot.appendingPathComponent(".build/berg-test-home") }

    /// The wheel's group-level files, fetched with pip into a cache under .build on first use.
    static func groupFolder() throws -> URL {
        // The backbone is not needed here: a stand-in file keeps the store from fetching it.
        let options = StoreOptions(overrides: ["backbone": URL(fileURLWithPath: #filePath)])
        let files = try ArtifactStore(home: home, options: options)
            .localFiles(for: Img2fmriFixtures.manifest(), subject: 1, selection: ["roi": "all", "space": "mni"])
        return try XCTUnwrap(files["group"])
    }

    /// The img2fmri 1.0 wheel itself (its test images and movie are no artifact's members),
    /// downloaded once into the same cache.
    static func wheel() throws -> URL {
        let folder = home.appendingPathComponent("img2fmri-wheel")
        let wheel = folder.appendingPathComponent("img2fmri-1.0-py3-none-any.whl")
        if FileManager.default.fileExists(atPath: wheel.path) { return wheel }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                             "img2fmri==1.0", "-d", folder.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: wheel.path) else {
            throw BERGError.downloadFailed(url: "img2fmri==1.0", message: "pip download failed")
        }
        return wheel
    }

    /// Members of the wheel (test images, the movie) extracted into a temporary folder.
    static func extract(_ members: [String]) throws -> URL {
        let archive = try ZipArchive(path: wheel().path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-img2fmri-members-\(UUID().uuidString)")
        for name in members {
            let entry = try XCTUnwrap(archive.entry(named: name), name)
            let target = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try archive.contents(of: entry).write(to: target)
        }
        return folder
    }

    func groupFromWheel(rois: [String], sigma: Double) throws -> Img2fmriGroupMNI {
        let manifest = try Img2fmriFixtures.manifest()
        let context = EncoderContext(manifest: manifest, subject: 1, selection: ["roi": "all"],
                                     options: ["center_crop": false, "space": "mni"], device: .auto,
                                     files: ["group": try Self.groupFolder()])
        return try Img2fmriGroupMNI(context: context, settings: SettingsDecoder.decode(Img2fmriSettings.self, from: manifest),
                                    rois: rois, sigma: sigma)
    }

    /// Agreement with the reference pipeline (fslpy, NumPy, SciPy, img2fmri's code) on the real
    /// files, for the three fixed feature vectors of ../features.npy.
    func testRealWheelMatchesTheReference() throws {
        let reference = try NPZFile.read(Img2fmriFixtures.path("mni/real_reference.npz"))
        let features = try NPYFile.read(Img2fmriFixtures.path("features.npy"))
        for (label, rois, sigma) in [("all_s1", ["EarlyVis", "OPA", "LOC", "RSC", "PPA"], 1.0),
                                     ("test_s125", ["EarlyVis", "OPA", "LOC", "RSC"], 1.25)] {
            let model = try groupFromWheel(rois: rois, sigma: sigma)
            let count = Int(try XCTUnwrap(reference["overlap_count_\(label)"]).int64s[0])
            XCTAssertEqual(model.maskVoxels.count, count, label)
            let ours = try model.predict(features: features).floats
            let theirs = try XCTUnwrap(reference["group_\(label)"]).floats
            let nonzeroDisagreement = zip(ours, theirs).filter { ($0 != 0) != ($1 != 0) }.count
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            var rows: [Double] = []
            for n in 0..<features.shape[0] {
                rows.append(pearson(Array(ours[n * count ..< (n + 1) * count]), Array(theirs[n * count ..< (n + 1) * count])))
            }
            print("img2fmri MNI \(label): \(count) mask voxels, nonzero disagreements \(nonzeroDisagreement), Pearson r \(rows), max |diff| \(worst) (z units)")
            XCTAssertLessThanOrEqual(Double(nonzeroDisagreement), 0.005 * Double(ours.count), label)
            for r in rows { XCTAssertGreaterThanOrEqual(r, 0.999, label) }
        }
    }

    /// The geometry alone: each subject's warped volume (AFNI resample + FSL applywarp) for the
    /// first vector, voxel for voxel.
    func testRealWarpsMatchTheReference() throws {
        let reference = try NPZFile.read(Img2fmriFixtures.path("mni/real_reference.npz"))
        let features = try NPYFile.read(Img2fmriFixtures.path("features.npy"))
        let first = try Tensor(shape: [1, features.shape[1]], floats: Array(features.floats.prefix(features.shape[1])))
        let model = try groupFromWheel(rois: ["EarlyVis", "OPA", "LOC", "RSC", "PPA"], sigma: 1.0)
        for (index, projection) in model.projections.enumerated() {
            let s = index + 1
            let warped = try model.warpedVolume(subjectIndex: index, outputs: try projection.readout.predict(first).floats)
            let ours = Set(warped.indices.filter { warped[$0] != 0 })
            let theirIndex = try XCTUnwrap(reference["subject\(s)_mni_index"]).int64s.map { Int($0) }
            let theirValue = try XCTUnwrap(reference["subject\(s)_mni_value"]).floats
            let theirs = Set(theirIndex)
            let differing = ours.symmetricDifference(theirs).count
            var worst: Float = 0
            for (i, v) in zip(theirIndex, theirValue) where ours.contains(i) { worst = max(worst, abs(warped[i] - v) / max(abs(v), 1e-3)) }
            print("img2fmri MNI subject \(s) warp: \(theirs.count) nonzero voxels in the reference, \(ours.count) here, \(differing) differ; worst relative value difference \(worst)")
            XCTAssertLessThanOrEqual(Double(differing), 0.005 * Double(theirs.count), "subject \(s)")
        }
    }

    func testLandscapeFramesMatchOpenCV() throws {
        let folder = try Self.extract(["img2fmri/tests/test_data/landscape.mp4"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let frames = try BERG.loadMovie(folder.appendingPathComponent("img2fmri/tests/test_data/landscape.mp4").path, fps: 2)
        let reference = try Img2fmriFixtures.json("mni/landscape.json")
        XCTAssertEqual(frames.frameIndices, try XCTUnwrap(reference["frame_index"] as? [Int]))
        XCTAssertEqual(frames.times, try XCTUnwrap(reference["times"] as? [Double]))
        let means = try XCTUnwrap(reference["channel_means"] as? [[Double]])
        let plane = frames.stimulus.height * frames.stimulus.width
        for (n, expected) in means.enumerated() {
            let image = Array(frames.stimulus.image(n))
            for c in 0..<3 {
                let mean = image[c * plane ..< (c + 1) * plane].reduce(0.0) { $0 + Double($1) } / Double(plane)
                XCTAssertEqual(mean, expected[c], accuracy: 1e-6, "frame \(n) channel \(c): the same pixels as OpenCV")
            }
        }
    }

    /// img2fmri's tests/run_test.py on its own test images, with the real ResNet-18: the two
    /// horse images correlate more with each other than with the amusement-park ones (and the
    /// other way round), every voxel of the predicted ROIs' mask is nonzero, and the ROI left
    /// out (PPA) is not wholly covered. Then its movie test: a 4-D volume from landscape.mp4.
    func testImg2fmriOwnTestProperties() throws {
        let names = ["amusement1.jpg", "amusement2.jpg", "horse1.jpg", "horse2.jpg"]  // natsorted
        let folder = try Self.extract(names.map { "img2fmri/tests/test_data/images/\($0)" } + ["img2fmri/tests/test_data/landscape.mp4"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let berg = try BERG(home: Self.home)
        let model = try berg.getGroupMNIModel("img2fmri-bold5000", rois: ["EarlyVis", "OPA", "LOC", "RSC"], sigma: 1.25)
        var predictions: [[Float]] = []
        for name in names {
            let stimulus = try StimulusLoader.load(folder.appendingPathComponent("img2fmri/tests/test_data/images/\(name)").path)
            let responses = try XCTUnwrap(try berg.encode(model, stimulus).responses["responses"]).floats
            XCTAssertEqual(responses.filter { $0 == 0 }.count, 0, "\(name): every mask voxel is predicted")
            predictions.append(responses)
        }
        for i in stride(from: 0, to: names.count, by: 2) {
            let pair = pearson(predictions[i], predictions[i + 1])
            for j in names.indices where j != i && j != i + 1 {
                XCTAssertGreaterThan(pair, pearson(predictions[i], predictions[j]), "\(names[i]) vs \(names[j])")
                XCTAssertGreaterThan(pair, pearson(predictions[i + 1], predictions[j]), "\(names[i + 1]) vs \(names[j])")
            }
        }
        let group = try XCTUnwrap(model as? Img2fmriGroupMNI)
        let ppa = try groupFromWheel(rois: ["PPA"], sigma: 1.25).maskVoxels
        XCTAssertFalse(Set(ppa).isSubset(of: Set(group.maskVoxels)), "the PPA mask reaches beyond the predicted ROIs")

        let movie = try berg.encodeMovie(model, path: folder.appendingPathComponent("img2fmri/tests/test_data/landscape.mp4").path, fps: 2)
        XCTAssertEqual(try XCTUnwrap(movie.responses["responses"]).shape, [15, group.maskVoxels.count])
        XCTAssertEqual(try VoxelVolume(movie).tensor().shape, [91, 109, 91, 15])
    }

    func pearson(_ a: [Float], _ b: [Float]) -> Double {
        let x = a.map(Double.init), y = b.map(Double.init)
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (p, q) in zip(x, y) { sxy += (p - mx) * (q - my); sxx += (p - mx) * (p - mx); syy += (q - my) * (q - my) }
        return sxy / (sxx * syy).squareRoot()
    }
}
