import XCTest
import BERG
import BERGFormats
import BERGStore
@testable import BERGModels

/// The `fwrf` encoder on checkpoints in BERG's own layout (Tools/reference/make_fwrf_fixtures.py:
/// random weights, 5 V1 voxels, 7 lateral voxels in two splits), read through the facade with a
/// BERG directory, against PyTorch's responses.
final class FWRFEncoderTests: XCTestCase {
    /// The fixture BERG directory, unpacked once per run.
    nonisolated(unsafe) static var scratch: URL!
    static var bergDir: URL { scratch.appendingPathComponent("berg_dir") }
    static let weightsFolder = "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/encoding_models_weights"

    override class func setUp() {
        super.setUp()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fwrf-tests-\(UUID().uuidString)")
        do {
            try ArchiveExtractor.extract(FWRFFixtures.directory.appendingPathComponent("berg_dir.tar.xz"), into: scratch)
        } catch {
            XCTFail("cannot unpack the fixture BERG directory: \(error)")
        }
    }

    override class func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        super.tearDown()
    }

    /// A facade that reads the fixture BERG directory in place and never downloads.
    func makeBERG(bergDir: URL = FWRFEncoderTests.bergDir) throws -> BERG {
        try BERG(home: FWRFEncoderTests.scratch.appendingPathComponent("home"),
                 storeOptions: StoreOptions(bergDir: bergDir, offline: true))
    }

    func images(_ side: Int) throws -> Stimulus {
        try FWRFFixtures.stimulus(FWRFEncoderTests.bergDir.appendingPathComponent("images_\(side).npy"))
    }

    func expected(_ name: String) throws -> Tensor {
        try NPYFile.read(FWRFFixtures.directory.appendingPathComponent("\(name).npy").path)
    }

    // MARK: Responses

    func testV1MatchesPyTorchOnDownscaledImages() throws {
        let berg = try makeBERG()
        let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        // Batches of 2 through the facade: 3 images run as 2 + 1.
        let result = try berg.encode(model, images(233), batchSize: 2)
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("responses_V1_233"), relative: 1e-4, "V1, 233 px")
    }

    func testV1MatchesPyTorchOnUpscaledImages() throws {
        let berg = try makeBERG()
        let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        let result = try model.encode(images(160))
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("responses_V1_160"), relative: 1e-4, "V1, 160 px")
    }

    /// lateral ships as two networks (4 + 3 voxels here): split 1's voxels come first.
    func testLateralConcatenatesSplitOneThenSplitTwo() throws {
        let berg = try makeBERG()
        let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "lateral"])
        let encoder = try XCTUnwrap(model as? FWRFEncoder)
        XCTAssertEqual(encoder.networks.map(\.readout.voxelCount), [4, 3])
        let result = try model.encode(images(233))
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("responses_lateral_233"), relative: 1e-4, "lateral")
    }

    // MARK: Errors

    func testMissingSplitFileNamesThePathItLookedFor() throws {
        let berg = try makeBERG()
        let manifest = try berg.describe("fmri-nsd-fwrf")
        let weights = FWRFEncoderTests.bergDir.appendingPathComponent(FWRFEncoderTests.weightsFolder)
        let missing = FWRFEncoderTests.scratch.appendingPathComponent("nowhere/weights_sub-01_roi-lateral_split-2.pt")
        let context = EncoderContext(
            manifest: manifest, subject: 1, selection: ["roi": "lateral"], device: .cpu,
            files: ["weights_split1": weights.appendingPathComponent("weights_sub-01_roi-lateral_split-1.pt"),
                    "weights_split2": missing,
                    "metadata": FWRFEncoderTests.bergDir.appendingPathComponent(
                        "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/metadata/metadata_sub-01_roi-lateral.npy")])
        XCTAssertThrowsError(try FWRFEncoder(context: context)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(missing.path), message)
            XCTAssertTrue(message.contains("weights_split2"), message)
        }
    }

    /// Through the facade, a BERG directory without split 2 (offline) is an error naming the file.
    func testBergDirWithoutSecondSplitIsAnError() throws {
        let partial = FWRFEncoderTests.scratch.appendingPathComponent("partial")
        let folder = partial.appendingPathComponent(FWRFEncoderTests.weightsFolder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(
            at: FWRFEncoderTests.bergDir.appendingPathComponent(FWRFEncoderTests.weightsFolder + "/weights_sub-01_roi-lateral_split-1.pt"),
            to: folder.appendingPathComponent("weights_sub-01_roi-lateral_split-1.pt"))
        let berg = try makeBERG(bergDir: partial)
        XCTAssertThrowsError(try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "lateral"])) { error in
            XCTAssertTrue("\(error)".contains("weights_sub-01_roi-lateral_split-2.pt"), "\(error)")
        }
    }

    func testShapeMismatchNamesTheKeyAndBothShapes() throws {
        let path = FWRFEncoderTests.bergDir.appendingPathComponent(FWRFEncoderTests.weightsFolder + "/weights_sub-01_roi-V1.pt").path
        var enc = try TorchCheckpoint(path: path).stateDict(at: ["best_params", "enc"])
        XCTAssertNoThrow(try FWRFNetwork.checked(enc, FWRFNetwork.encoderKeys, what: path))
        enc["enc.conv5b.conv1.weight"] = try Tensor.zeros([128, 128, 5, 5])
        XCTAssertThrowsError(try FWRFNetwork.checked(enc, FWRFNetwork.encoderKeys, what: path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("enc.conv5b.conv1.weight"), message)
            XCTAssertTrue(message.contains("[128, 128, 3, 3]"), message)
            XCTAssertTrue(message.contains("[128, 128, 5, 5]"), message)
        }
        enc["enc.conv5b.conv1.weight"] = nil
        XCTAssertThrowsError(try FWRFNetwork.checked(enc, FWRFNetwork.encoderKeys, what: path)) { error in
            XCTAssertTrue("\(error)".contains("missing key 'enc.conv5b.conv1.weight'"), "\(error)")
        }
    }

    /// The encoder does its own square crop (Pillow's offsets), so a non-square array gives
    /// what its centre square gives, and the result says so.
    func testNonSquareArrayIsCroppedByTheEncoder() throws {
        let berg = try makeBERG()
        let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        let (h, w) = (20, 31)
        let wide = (0..<(3 * h * w)).map { UInt8(($0 * 7919) % 251) }
        let stimulus = try Stimulus(images: wide, count: 1, height: h, width: w)
        let left = (w - h) / 2
        var square: [UInt8] = []
        for row in 0..<(3 * h) {
            let start = row * w + left
            square += wide[start ..< start + h]
        }
        let cropped = try model.encode(stimulus)
        let direct = try model.encode(Stimulus(images: square, count: 1, height: h, width: h))
        XCTAssertEqual(try cropped.response.floats, try direct.response.floats)
        XCTAssertTrue(cropped.metadata.string("stimulus_crop")?.contains("20×20 of 31×20") ?? false,
                      cropped.metadata.string("stimulus_crop") ?? "no note")
    }

    // MARK: Metadata and volume

    func testMetadataFromBERGsFile() throws {
        let berg = try makeBERG()
        let metadata = try berg.getModelMetadata("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        let mask = try XCTUnwrap(metadata.tensor("fmri/roi_mask_volume"))
        XCTAssertEqual(mask.shape, [81, 104, 83])
        XCTAssertEqual(mask.dtype, .bool)
        XCTAssertEqual(mask.floats.filter { $0 == 1 }.count, 5)
        let affine = try XCTUnwrap(metadata.tensor("fmri/fmri_affine"))
        XCTAssertEqual(affine.shape, [4, 4])
        // The script's affine: 1.8 mm voxels, origin (-72, -92.7, -74.4).
        XCTAssertEqual(affine.doubles, [1.8, 0, 0, -72, 0, 1.8, 0, -92.7, 0, 0, 1.8, -74.4, 0, 0, 0, 1])
        for name in ["fmri/ncsnr", "encoding_models/r2", "encoding_models/noise_ceiling", "encoding_models/explained_variance"] {
            XCTAssertEqual(metadata.tensor(name)?.shape, [5], name)
        }
        XCTAssertEqual(metadata.tensor("encoding_models/test_img_num")?.int64s, Array(6..<12))
        XCTAssertEqual(metadata[path: "model_id"], .string("fmri-nsd-fwrf"))
    }

    /// Responses go into the mask's voxels in NumPy C order; NaN elsewhere.
    func testResponseVolumePutsVoxelsInCOrder() throws {
        let berg = try makeBERG()
        let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        let result = try berg.encode(model, images(160))
        let out = FWRFEncoderTests.scratch.appendingPathComponent("v1.nii.gz").path
        try BERG.writeResponseVolume(result, to: out)
        let image = try NIfTIFile.read(out)
        XCTAssertEqual(image.shape, [81, 104, 83, 2])
        let volume = try image.data()
        let mask = try XCTUnwrap(result.metadata.tensor("fmri/roi_mask_volume"))
        // NumPy's volume[mask] on the written file gives back the responses, voxel by voxel.
        let selected = try NIfTIFile.select(volume, mask: mask, above: 0.5)
        XCTAssertEqual(selected.shape, [5, 2])
        let responses = try XCTUnwrap(result.responses["responses"]).floats
        for v in 0..<5 {
            for n in 0..<2 { XCTAssertEqual(selected.floats[v * 2 + n], responses[n * 5 + v]) }
        }
        let values = volume.floats
        XCTAssertEqual(values.filter { $0.isNaN }.count, values.count - 10)
        XCTAssertEqual(image.affine[1][3], -92.7, accuracy: 1e-4)
    }
}
