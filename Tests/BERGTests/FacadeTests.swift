import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import BERGModels
import Foundation
import XCTest

final class FacadeTests: XCTestCase {
    let id = "fmri-kay2013-css_prf"

    func testListingAndCatalog() throws {
        let berg = try BERG()
        XCTAssertTrue(try berg.listModels().contains(id))
        XCTAssertEqual(try berg.listModels("fmri-kay*"), [id])
        XCTAssertEqual(try berg.listModels("eeg-*"), ["eeg-things_eeg_2-vit_b_32"])
        XCTAssertEqual(try berg.listModels("meg-*"), [])
        XCTAssertTrue(try berg.modelCatalog()["fmri"]?.contains("kay2013") ?? false)
        XCTAssertEqual(try berg.describe(id).encoder.kind, "css_prf")
    }

    func testAWrongModelIsADifferentErrorFromAWrongVariant() throws {
        let berg = try BERG()
        XCTAssertThrowsError(try berg.getEncodingModel("fmri-nope", subject: 1, selection: ["roi": "V1"])) { error in
            guard case BERGError.unknownModel(_, let known) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(known.contains(self.id))
        }
        XCTAssertThrowsError(try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V7"])) { error in
            XCTAssertEqual((error as? BERGError)?.message, "Invalid ROI 'V7' for fmri-kay2013-css_prf. Valid ROIs: V1, V2, V3, hV4")
            XCTAssertTrue((error as? BERGError)?.isUsageError ?? false)
        }
        XCTAssertThrowsError(try berg.getModelMetadata(id, subject: 3, selection: ["roi": "V1"])) { error in
            XCTAssertEqual((error as? BERGError)?.message, "Invalid subject '3' for fmri-kay2013-css_prf. Valid subjects: 1")
        }
    }

    func testStimuliOfDifferentSizesEncodeInOrderAsOne() throws {
        let berg = try BERG()
        let model = try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"])
        func image(_ side: Int, _ value: (Int) -> UInt8, count: Int = 1) throws -> Stimulus {
            let plane = side * side
            return try Stimulus(images: (0..<count * 3 * plane).map { value(($0 % plane) % side) }, count: count, height: side, width: side)
        }
        let runs = [try image(32, { $0 < 16 ? 0 : 128 }, count: 2), try image(48, { $0 % 3 == 0 ? 255 : 128 })]
        let joined = try berg.encode(model, runs, batchSize: 1)
        let separate = try runs.map { try berg.encode(model, $0).responses["responses"]!.floats }
        XCTAssertEqual(joined.responses["responses"]?.shape.first, 3)
        XCTAssertEqual(joined.responses["responses"]?.floats, separate[0] + separate[1])
    }

    func testCudaFailsClearlyAndAutoIsCPU() throws {
        let berg = try BERG()
        XCTAssertThrowsError(try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"], device: .cuda)) { error in
            guard case BERGError.unsupported(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("cuda"), message)
        }
        XCTAssertEqual(try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"]).device, .cpu)
    }

    func testMetadataWithoutLoading() throws {
        let meta = try BERG().getModelMetadata(id, subject: 1, selection: ["roi": "hV4"])
        for key in ["prf_x_deg", "prf_y_deg", "prf_sigma_deg", "prf_exponent", "prf_gain", "model_id", "subject", "selection", "berg_version"] {
            XCTAssertTrue(meta.keys.contains(key), "metadata lacks \(key)")
        }
        XCTAssertEqual(meta.tensor("prf_x_deg")?.shape, [288])
        XCTAssertEqual(meta[path: "selection/roi"], .string("hV4"))
        XCTAssertEqual(meta["model_id"], .string(id))
    }

    func testEncodeInBatchesEqualsOneBatch() throws {
        let berg = try BERG()
        let model = try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"])
        var pixels = [UInt8](repeating: 128, count: 7 * 3 * 32 * 32)
        for i in 0..<pixels.count where (i / 7) % 5 == 0 { pixels[i] = UInt8(i % 256) }
        let stimulus = try Stimulus(images: pixels, count: 7, height: 32, width: 32)
        let whole = try berg.encode(model, stimulus)
        let batched = try berg.encode(model, stimulus, batchSize: 3)
        XCTAssertEqual(whole.responses["responses"]?.shape, [7, 288])
        XCTAssertEqual(whole.responses, batched.responses)
        XCTAssertEqual(whole.metadata["model_id"], .string(id))
        XCTAssertEqual(whole.metadata["subject"], .int(1))
        XCTAssertThrowsError(try berg.encode(model, stimulus, batchSize: 0))
    }

    func testArtifactsComeFromTheResolverWithTheResolvedSelection() throws {
        // A user registry with a model that needs one file per ROI.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-facade-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("registry/\(id).yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "model_id: \(id)", with: "model_id: fmri-needs-files")
            .replacingOccurrences(of: "artifacts: []", with: "artifacts:\n  - name: weights\n    source: https\n    url: https://example.org/w_{roi}.bin\n")
            .write(to: folder.appendingPathComponent("fmri-needs-files.yaml"), atomically: true, encoding: .utf8)

        // Offline, with nothing cached, the missing file is named (and nothing is fetched).
        let offline = try BERG(home: folder.appendingPathComponent("home"), registries: [folder],
                               storeOptions: StoreOptions(offline: true))
        XCTAssertThrowsError(try offline.getEncodingModel("fmri-needs-files", subject: 1, selection: ["roi": "V1"])) { error in
            guard case BERGError.artifactMissing("weights", _) = error else { return XCTFail("\(error)") }
        }
        let spy = SpyResolver()
        let berg = try BERG(registries: [folder], artifacts: spy)
        _ = try berg.getEncodingModel("fmri-needs-files", subject: 1, selection: ["roi": "V3"])
        XCTAssertEqual(spy.calls.value, ["fmri-needs-files 1 roi=V3"])
        // Invalid parameters are refused before the store is asked.
        XCTAssertThrowsError(try berg.getEncodingModel("fmri-needs-files", subject: 1, selection: ["roi": "V9"]))
        XCTAssertThrowsError(try berg.getEncodingModel("fmri-needs-files", subject: 1, selection: ["roi": "V1"], device: .cuda))
        XCTAssertEqual(spy.calls.value.count, 1)
    }
}

final class SpyResolver: ArtifactResolving, @unchecked Sendable {
    final class Box: @unchecked Sendable { var value: [String] = [] }
    let calls = Box()
    func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL] {
        calls.value.append("\(manifest.modelID) \(subject) \(selection)")
        return ["weights": URL(fileURLWithPath: "/dev/null")]
    }
}
