import XCTest
import BERG
import BERGFormats
import BERGStore
@testable import BERGCompute
@testable import BERGModels
import BERGRegistry

/// The `feature-linear` kind on BERG's two ViT-B/32 models and a third, AlexNet-based model,
/// against responses BERG's own package computed (Tools/reference/make_vit_fixtures.py:
/// random weights in BERG's layout, a 12-layer ViT-B/32 at width 16), through the facade
/// with a BERG directory. Tolerance: max |Δ| ≤ 1e-4 · max |reference|.
final class FeatureLinearEncoderTests: XCTestCase {
    nonisolated(unsafe) static var scratch: URL!
    static var bergDir: URL { scratch.appendingPathComponent("berg_dir") }
    static var fixtures: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/vit") }
    static let fsaverage = "fmri-nsd_fsaverage-vit_b_32"
    static let eeg = "eeg-things_eeg_2-vit_b_32"

    override class func setUp() {
        super.setUp()
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vit-tests-\(UUID().uuidString)")
        do {
            try ArchiveExtractor.extract(fixtures.appendingPathComponent("berg_dir.tar.xz"), into: scratch)
        } catch {
            XCTFail("cannot unpack the fixture BERG directory: \(error)")
        }
    }

    override class func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        super.tearDown()
    }

    /// A facade that reads the fixture BERG directory in place, with the reduced backbone, offline.
    func makeBERG(registries: [URL] = []) throws -> BERG {
        var options = StoreOptions(bergDir: Self.bergDir, offline: true)
        options.overrides["backbone"] = Self.bergDir.appendingPathComponent("backbone.pth")
        return try BERG(home: Self.scratch.appendingPathComponent("home"), registries: registries, storeOptions: options)
    }

    func images(_ name: String) throws -> Stimulus {
        try FWRFFixtures.stimulus(Self.bergDir.appendingPathComponent("images_\(name).npy"))
    }

    func expected(_ name: String) throws -> Tensor {
        try NPYFile.read(Self.fixtures.appendingPathComponent("expected/\(name).npy").path)
    }

    func path(_ name: String) -> String { Self.bergDir.appendingPathComponent(name).path }

    func encode(_ id: String, selection: Selection = [:], subject: Subject = 1, images name: String) throws -> EncodingResult {
        let berg = try makeBERG()
        return try berg.encode(berg.getEncodingModel(id, subject: subject, selection: selection), images(name))
    }

    /// Every `step`-th column of the last axis of a [N, V] tensor (the fixtures keep a sample).
    func strided(_ t: Tensor, _ step: Int) throws -> Tensor {
        let (n, v) = (t.shape[0], t.shape[1])
        let columns = Array(stride(from: 0, to: v, by: step))
        let values = t.floats
        return try Tensor(shape: [n, columns.count], floats: (0..<n).flatMap { i in columns.map { values[i * v + $0] } })
    }

    // MARK: fsaverage

    /// No selection: all 163,842 vertices per hemisphere, for images of 256, 227 and 320 px
    /// and 240×300 (resized, cropped, no square crop first).
    func testFsaverageAllVerticesAtEveryImageSize() throws {
        for size in ["256", "227", "320", "240x300"] {
            let result = try encode(Self.fsaverage, images: size)
            for side in ["lh", "rh"] {
                let responses = try XCTUnwrap(result.responses[side])
                XCTAssertEqual(responses.shape, [2, 163_842])
                FWRFFixtures.assertClose(try strided(responses, 127), try expected("fsaverage_all_\(size)_\(side)_stride127"),
                                         relative: 1e-4, "fsaverage \(side) \(size)")
            }
        }
    }

    func testFsaverageROIPlacesItsVerticesOnTheSurface() throws {
        let result = try encode(Self.fsaverage, selection: ["roi": "V1v"], images: "256")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["lh"]), try expected("fsaverage_V1v_lh"), relative: 1e-4, "V1v lh")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["rh"]), try expected("fsaverage_V1v_rh"), relative: 1e-4, "V1v rh")
        guard case .surface(let placement)? = result.placement else { return XCTFail("no surface placement") }
        XCTAssertEqual(placement.mesh, "fsaverage")
        XCTAssertEqual(placement.vertexCount, ["lh": 163_842, "rh": 163_842])
        let metadata = try NPYFile.readObject(path("encoding_models/modality-fmri/train_dataset-nsd_fsaverage/model-vit_b_32/metadata/metadata_subject-01.npy"))
        XCTAssertEqual(placement.vertices["lh"]?.map(Int64.init), metadata["fmri"]?["lh_fsaverage_rois"]?["V1v"]?.tensor?.int64s)
        XCTAssertEqual(result.metadata.tensor("selected_units/lh/vertices")?.count, 54)
        let surface = try BERG.responseSurface(result, output: "rh")
        XCTAssertEqual(surface.count, 2)
        XCTAssertEqual(surface[0].count, 163_842)
        XCTAssertEqual(surface[0].filter { !$0.isNaN }.count, 54)
    }

    /// mTL-faces has no left-hemisphere vertex: that output is [N, 0], not an error.
    func testFsaverageROIEmptyInOneHemisphere() throws {
        let result = try encode(Self.fsaverage, selection: ["roi": "mTL-faces"], images: "240x300")
        XCTAssertEqual(result.responses["lh"]?.shape, [2, 0])
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["rh"]), try expected("fsaverage_mTL-faces_rh"), relative: 1e-4, "mTL-faces rh")
    }

    /// BERG's card says OVWFA, its metadata OWFA: both name the same vertices.
    func testFsaverageOVWFAAndOWFAAreOneROI() throws {
        for roi in ["OVWFA", "OWFA"] {
            let result = try encode(Self.fsaverage, selection: ["roi": roi], images: "227")
            FWRFFixtures.assertClose(try XCTUnwrap(result.responses["lh"]), try expected("fsaverage_OWFA_lh"), relative: 1e-4, "\(roi) lh")
            FWRFFixtures.assertClose(try XCTUnwrap(result.responses["rh"]), try expected("fsaverage_OWFA_rh"), relative: 1e-4, "\(roi) rh")
        }
    }

    func testFsaverageVertexMasksAndROIWinningOverThem() throws {
        let masks: Selection = ["lh_vertices": path("lh_mask.npy"), "rh_vertices": path("rh_mask.npy")]
        var result = try encode(Self.fsaverage, selection: masks, images: "320")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["lh"]), try expected("fsaverage_masks_lh"), relative: 1e-4, "lh mask")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["rh"]), try expected("fsaverage_masks_rh"), relative: 1e-4, "rh mask")
        var withROI = masks
        withROI["roi"] = "hV4"
        result = try encode(Self.fsaverage, selection: withROI, images: "256")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["lh"]), try expected("fsaverage_hV4_with_masks_lh"), relative: 1e-4, "hV4 lh")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["rh"]), try expected("fsaverage_hV4_with_masks_rh"), relative: 1e-4, "hV4 rh")
        result = try encode(Self.fsaverage, selection: ["lh_vertices": path("lh_mask.npy")], images: "256")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["lh"]), try expected("fsaverage_lh_mask_only_lh"), relative: 1e-4, "lh only")
        FWRFFixtures.assertClose(try strided(XCTUnwrap(result.responses["rh"]), 127), try expected("fsaverage_lh_mask_only_rh_stride127"),
                                 relative: 1e-4, "rh without a mask: all vertices")
    }

    // MARK: THINGS-EEG2

    func testEEGAllChannelsAndTimes() throws {
        let result = try encode(Self.eeg, images: "227")
        let responses = try XCTUnwrap(result.responses["responses"])
        XCTAssertEqual(responses.shape, [2, 4, 63, 140])
        let v = responses.floats
        var sample: [Float] = []
        for i in 0..<2 { for r in 0..<4 { for c in stride(from: 0, to: 63, by: 4) { for t in stride(from: 0, to: 140, by: 5) {
            sample.append(v[((i * 4 + r) * 63 + c) * 140 + t])
        } } } }
        FWRFFixtures.assertClose(try Tensor(shape: [2, 4, 16, 28], floats: sample), try expected("eeg_sub1_all_227_every4ch_every5t"),
                                 relative: 1e-4, "EEG, all")
        XCTAssertEqual(result.labels.strings("ch_names")?.count, 63)
        XCTAssertEqual(result.labels.tensor("times")?.count, 140)
    }

    /// Channels in the order given, a time range, a time mask, and one channel (not squeezed).
    func testEEGChannelAndTimeSelections() throws {
        var result = try encode(Self.eeg, selection: ["channels": "Oz,Cz,Fp1", "timepoints": "20:60"], images: "240x300")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("eeg_sub1_Oz,Cz,Fp1_20-60_240x300"), relative: 1e-4, "Oz,Cz,Fp1")
        XCTAssertEqual(result.labels.strings("ch_names"), ["Oz", "Cz", "Fp1"])
        let times = try XCTUnwrap(result.labels.tensor("times")).doubles
        XCTAssertEqual(times.count, 40)
        XCTAssertEqual(times[0], 0.0, accuracy: 1e-9)  // index 20: −0.1 + 20 · 0.005
        result = try encode(Self.eeg, selection: ["channels": "Pz", "timepoints": path("time_mask.npy")], images: "320")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("eeg_sub1_Pz_timemask_320"), relative: 1e-4, "Pz, mask")
        XCTAssertEqual(result.responses["responses"]?.shape, [2, 4, 1, 5])
        result = try encode(Self.eeg, selection: ["timepoints": "-10:"], images: "256")
        FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("eeg_sub1_tail_256"), relative: 1e-4, "last 10")
        XCTAssertEqual(result.metadata.tensor("selected_units/responses/times")?.int64s, Array(130..<140))
    }

    /// Newer files: one PCA per repetition, as a dict (subject 2, float64 readouts) or as a
    /// pickled scikit-learn PCA (subject 3, Fortran-ordered readouts).
    func testEEGPerRepetitionPCAForms() throws {
        for subject in [2, 3] {
            let result = try encode(Self.eeg, selection: ["channels": "O2,P8", "timepoints": "100:140"], subject: Subject(subject), images: "256")
            FWRFFixtures.assertClose(try XCTUnwrap(result.responses["responses"]), try expected("eeg_sub\(subject)_O2,P8_100-140_256"),
                                     relative: 1e-4, "subject \(subject)")
        }
        let model = try makeBERG().getEncodingModel(Self.eeg, subject: 2)
        XCTAssertEqual((model as? FeatureLinearEncoder)?.projections.count, 4, "one PCA per repetition")
        XCTAssertEqual((try makeBERG().getEncodingModel(Self.eeg, subject: 1) as? FeatureLinearEncoder)?.projections.count, 1,
                       "the four readouts of BERG 2.0 share one PCA, computed once")
    }

    // MARK: A third model, no new code

    /// AlexNet features of two layers, z-scored per image, scaler, PCA, one readout, from an
    /// .npz: a manifest in a registry folder, against PyTorch + NumPy.
    func testAnAlexNetFeatureLinearManifestRuns() throws {
        let folder = Self.bergDir.appendingPathComponent("alexnet_model")
        let berg = try BERG(home: Self.scratch.appendingPathComponent("home"), registries: [folder],
                            storeOptions: StoreOptions(offline: true))
        let model = try berg.getEncodingModel("test-alexnet_linear", subject: 1)
        let result = try berg.encode(model, images("320"))
        FWRFFixtures.assertClose(try result.response, try expected("alexnet_linear_320"), relative: 1e-4, "AlexNet feature-linear")
    }

    // MARK: Backbone

    /// The 2022 checkpoint spells the MLP linears `linear_1`/`linear_2`, newer ones `0`/`3`.
    func testBothMLPSpellingsGiveTheSameNetwork() throws {
        let stateDict = try TorchCheckpoint(path: path("backbone.pth")).stateDict()
        XCTAssertNotNil(stateDict["encoder.layers.encoder_layer_0.mlp.linear_1.weight"])
        var renamed: [String: Tensor] = [:]
        for (key, value) in stateDict {
            renamed[key.replacingOccurrences(of: ".mlp.linear_1.", with: ".mlp.0.").replacingOccurrences(of: ".mlp.linear_2.", with: ".mlp.3.")] = value
        }
        let input = try Preprocessing(resize: .torchvisionBilinear, shorterSide: 256, crop: 224, mean: [0.485, 0.456, 0.406],
                                      std: [0.229, 0.224, 0.225]).apply(images("256"))
        let node = "encoder.layers.encoder_layer_11.add_1"
        let a = try VisionTransformer(stateDict: stateDict).forward(input, outputs: [node])[node]
        let b = try VisionTransformer(stateDict: renamed).forward(input, outputs: [node])[node]
        XCTAssertEqual(a, b)
        XCTAssertEqual(try FeatureLinearEncoder.node(forModule: "encoder.layers.encoder_layer_3", network: "vit_b_32",
                                                     in: VisionTransformer(stateDict: stateDict).nodeNames), "encoder.layers.encoder_layer_3.add_1")
        XCTAssertThrowsError(try FeatureLinearEncoder.node(forModule: "encoder.layers.encoder_layer_12", network: "vit_b_32",
                                                           in: VisionTransformer(stateDict: stateDict).nodeNames)) { error in
            XCTAssertTrue("\(error)".contains("layers: conv_proj, encoder.layers.encoder_layer_0,"), "\(error)")
        }
    }

    // MARK: Bad input: usage errors, named, before any work

    func assertSelectionError(_ id: String, _ selection: Selection, mentioning text: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try makeBERG().getEncodingModel(id, subject: 1, selection: selection), file: file, line: line) { error in
            XCTAssertTrue((error as? BERGError)?.isUsageError ?? false, "\(error) should be a usage error", file: file, line: line)
            XCTAssertTrue("\(error)".contains(text), "\(error) should mention \(text)", file: file, line: line)
        }
    }

    func testBadSelectionsAreUsageErrors() throws {
        assertSelectionError(Self.fsaverage, ["lh_vertices": path("short_mask.npy")],
                             mentioning: "holds 163841 values (shape [163841]), but the mask must hold 163842")
        assertSelectionError(Self.fsaverage, ["rh_vertices": path("nowhere.npy")], mentioning: "no such file")
        assertSelectionError(Self.eeg, ["channels": "Oz,XX"], mentioning: "unknown name 'XX'. Valid names: Fp1, F3, F7")
        assertSelectionError(Self.eeg, ["channels": "Oz,Oz"], mentioning: "'Oz' is listed twice")
        assertSelectionError(Self.eeg, ["timepoints": "60:20"], mentioning: "selects none of the 140 times")
        assertSelectionError(Self.eeg, ["timepoints": "200:300"], mentioning: "selects none of the 140 times")
        assertSelectionError(Self.eeg, ["timepoints": "a:b"], mentioning: "expected START:STOP")
        assertSelectionError(Self.eeg, ["timepoints": path("lh_mask.npy")], mentioning: "the mask must hold 140")
        assertSelectionError(Self.eeg, ["roi": "V1"], mentioning: "unknown selection key 'roi'; this model takes: channels, timepoints")
    }

    /// Masks and ranges are checked before any file is fetched: offline with nothing on disk,
    /// the selection error comes first.
    func testMasksAreCheckedBeforeFetching() throws {
        let berg = try BERG(home: Self.scratch.appendingPathComponent("empty-home"), storeOptions: StoreOptions(offline: true))
        XCTAssertThrowsError(try berg.getEncodingModel(Self.eeg, subject: 1, selection: ["timepoints": "5:5"])) { error in
            XCTAssertTrue("\(error)".contains("selects none"), "\(error)")
        }
        XCTAssertThrowsError(try berg.getEncodingModel(Self.eeg, subject: 1)) { error in
            guard case BERGError.artifactMissing = error else { return XCTFail("\(error)") }
        }
    }

    /// The model's metadata comes from the metadata file alone, without the weights.
    func testMetadataWithoutWeights() throws {
        let options = StoreOptions(bergDir: Self.bergDir, offline: true)
        let berg = try BERG(home: Self.scratch.appendingPathComponent("home"), storeOptions: options)
        let metadata = try berg.getModelMetadata(Self.eeg, subject: 1, selection: ["channels": "Cz"])
        XCTAssertEqual(metadata.strings("eeg/ch_names")?.count, 63)
        XCTAssertEqual(metadata.tensor("selected_units/responses/channels")?.int64s, [22])
    }

    /// Weights that do not fit the manifest: errors name the key and both shapes.
    func testMismatchedWeightsNameTheirKeys() throws {
        let folder = Self.scratch.appendingPathComponent("bad-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = Self.bergDir.appendingPathComponent("alexnet_model")
        for name in ["weights.npz", "backbone.pth"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let manifest = try String(contentsOf: source.appendingPathComponent("test-alexnet_linear.yaml"), encoding: .utf8)
        for (change, message) in [(("coef: coef", "coef: pca_components"), "'pca_components' has shape [5, 6408] but its input has 5 values"),
                                  (("mean: pca_mean", "mean: scaler_mean"), nil),
                                  (("scale: scaler_scale", "scale: nothing_here"), "there is no 'nothing_here' in this file; the top level holds: ")] {
            try manifest.replacingOccurrences(of: change.0, with: change.1)
                .write(to: folder.appendingPathComponent("test-alexnet_linear.yaml"), atomically: true, encoding: .utf8)
            let berg = try BERG(home: Self.scratch.appendingPathComponent("home"), registries: [folder], storeOptions: StoreOptions(offline: true))
            if let message {
                XCTAssertThrowsError(try berg.getEncodingModel("test-alexnet_linear", subject: 1)) { error in
                    XCTAssertTrue("\(error)".contains(message), "\(error)")
                }
            } else {
                XCTAssertNoThrow(try berg.getEncodingModel("test-alexnet_linear", subject: 1), "a mean of the right size is accepted")
            }
        }
    }

    /// Settings that do not fit the rest of the manifest are caught by `berg registry check`.
    func testManifestChecksNameTheKey() throws {
        let text = BuiltinManifests.files.first { $0.name == "fmri-nsd_fsaverage-vit_b_32.yaml" }!.text
        for (change, message) in [
            (("  - name: rh\n", "  - name: rhx\n"), "'rh' is not one of the manifest's outputs: lh, rhx"),
            (("order: [roi, lh_vertices, rh_vertices]\n    properties:\n",
              "order: [roi, lh_vertices, rh_vertices, extra]\n    properties:\n      extra:\n        type: text\n"),
             "selection key 'extra' has no rule"),
            (("    metadata_artifact: metadata\n", "    metadata_artifact: weights\n"), "the artifact named 'metadata'"),
            (("    mesh: fsaverage\n", ""), "a surface-placed model names its mesh"),
            (("        by: roi\n", "        by: roi\n        axis: voxels\n"), "output 'lh' declares no axis 'voxels'"),
        ] {
            let manifest = try ManifestLoader.load(yaml: text.replacingOccurrences(of: change.0, with: change.1),
                                                   file: "fmri-nsd_fsaverage-vit_b_32.yaml")
            XCTAssertThrowsError(try FeatureLinearEncoder.kind.checkSettings(manifest), message) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
        XCTAssertNoThrow(try FeatureLinearEncoder.kind.checkSettings(ManifestLoader.load(yaml: text, file: "fmri-nsd_fsaverage-vit_b_32.yaml")))
    }
}
