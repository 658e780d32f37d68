import BERG
import BERGModels
import Foundation
import XCTest

/// A kind registered at run time, as a separate package would, runs through the facade.
final class EncoderKindRegistryTests: XCTestCase {
    /// Answers every image with `value` per voxel.
    struct ConstantEncoder: EncodingModel {
        struct Settings: EncoderSettingsType {
            var value: Float
            var voxels: Int
            func validate() throws { guard voxels > 0 else { throw SettingsProblem("voxels", "must be positive") } }
        }
        let modelID: String, subject: Subject, selection: Selection, device: Device
        let settings: Settings
        var metadata: Metadata { Metadata([("value", .double(Double(settings.value)))]) }
        func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
            EncodingResult(responses: ["responses": try Tensor(shape: [stimulus.count, settings.voxels],
                                                               floats: [Float](repeating: settings.value, count: stimulus.count * settings.voxels))],
                           metadata: metadata, stimulusNames: stimulus.names)
        }
    }

    func registryFolder(settings: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-kinds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("registry/fmri-kay2013-css_prf.yaml"), encoding: .utf8)
        let head = text[..<text.range(of: "placement:")!.lowerBound]
            .replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: constant-test")
        try (head + "encoder:\n  kind: constant\n  settings:\n\(settings)\nartifacts: []\n")
            .write(to: folder.appendingPathComponent("constant-test.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    func makeKinds() -> EncoderKindRegistry {
        let kinds = EncoderKindRegistry(EncoderKindRegistry.builtIn)
        kinds.register(kind: "constant", settings: ConstantEncoder.Settings.self) { context, settings in
            ConstantEncoder(modelID: context.manifest.modelID, subject: context.subject, selection: context.selection,
                            device: context.device, settings: settings)
        }
        return kinds
    }

    func testARegisteredKindRunsThroughTheFacade() throws {
        let berg = try BERG(registries: [try registryFolder(settings: "    value: 0.25\n    voxels: 3")],
                            artifacts: ArtifactStore(options: StoreOptions(offline: true)), kinds: makeKinds())
        let model = try berg.getEncodingModel("constant-test", subject: 1, selection: ["roi": "V1"])
        let stimulus = try Stimulus(images: [UInt8](repeating: 9, count: 2 * 3 * 4 * 5), count: 2, height: 4, width: 5)
        let result = try berg.encode(model, stimulus)
        XCTAssertEqual(try result.response.shape, [2, 3])
        XCTAssertEqual(try result.response.floats, [Float](repeating: 0.25, count: 6))
        XCTAssertEqual(result.metadata.string("model_id"), "constant-test")
        XCTAssertEqual(try berg.getModelMetadata("constant-test", subject: 1, selection: ["roi": "V1"]).double("value"), 0.25)
        XCTAssertEqual(try berg.checkRegistry(try registryFolder(settings: "    value: 1\n    voxels: 1")).map(\.modelID), ["constant-test"])
    }

    func testSettingsAreCheckedWhenTheRegistryIsCheckedAndUnknownKindsListTheKnownOnes() throws {
        let berg = try BERG(artifacts: ArtifactStore(options: StoreOptions(offline: true)), kinds: makeKinds())
        XCTAssertThrowsError(try berg.checkRegistry(try registryFolder(settings: "    value: 1\n    voxels: 0"))) { error in
            XCTAssertTrue("\(error)".contains("encoder.settings.voxels") && "\(error)".contains("must be positive"), "\(error)")
        }
        XCTAssertThrowsError(try berg.checkRegistry(try registryFolder(settings: "    value: 1\n    voxels: 2\n    colour: red"))) { error in
            XCTAssertTrue("\(error)".contains("unknown setting 'colour'"), "\(error)")
        }
        let plain = try BERG(artifacts: ArtifactStore(options: StoreOptions(offline: true)), kinds: EncoderKindRegistry(EncoderKindRegistry.builtIn))
        XCTAssertThrowsError(try plain.checkRegistry(try registryFolder(settings: "    value: 1\n    voxels: 2"))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("unknown encoder kind 'constant'"), message)
            for kind in ["css_prf", "fwrf", "img2fmri"] { XCTAssertTrue(message.contains(kind), "lists the known kinds: \(message)") }
        }
        XCTAssertEqual(EncoderKindRegistry.shared.names.filter { ["css_prf", "fwrf", "img2fmri"].contains($0) }.count, 3)
    }
}
