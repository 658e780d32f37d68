import BERGCore
@testable import BERGRegistry
import Foundation
import XCTest

final class RegistryTests: XCTestCase {
    func testWildcards() {
        XCTAssertTrue(Registry.wildcardMatch("fmri-*", "fmri-nsd-fwrf"))
        XCTAssertTrue(Registry.wildcardMatch("*-fwrf", "fmri-nsd-fwrf"))
        XCTAssertTrue(Registry.wildcardMatch("fmri-???-fwrf", "fmri-nsd-fwrf"))
        XCTAssertFalse(Registry.wildcardMatch("eeg-*", "fmri-nsd-fwrf"))
        XCTAssertFalse(Registry.wildcardMatch("fmri", "fmri-nsd-fwrf"))
        XCTAssertTrue(Registry.wildcardMatch("*", ""))
    }

    func testLookupAndCatalog() throws {
        let registry = try Registry(directories: [])
        XCTAssertTrue(registry.listModels().contains("fmri-kay2013-css_prf"))
        XCTAssertEqual(registry.listModels(matching: "fmri-kay*"), ["fmri-kay2013-css_prf"])
        XCTAssertEqual(registry.listModels(matching: "eeg-*"), ["eeg-things_eeg_2-vit_b_32"])
        XCTAssertEqual(registry.listModels(matching: "meg-*"), [])
        XCTAssertTrue(registry.catalog()["fmri"]?.contains("kay2013") ?? false)
        XCTAssertThrowsError(try registry.manifest("fmri-nope")) { error in
            guard case BERGError.unknownModel(let id, let known) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(id, "fmri-nope")
            XCTAssertTrue(known.contains("fmri-kay2013-css_prf"))
        }
    }

    func testSelectionValidationListsValidValues() throws {
        let registry = try Registry(directories: [])
        let m = try registry.manifest("fmri-kay2013-css_prf")
        XCTAssertEqual(try registry.resolve(m, subject: 1, selection: ["roi": "V2"]), ["roi": "V2"])
        XCTAssertThrowsError(try registry.resolve(m, subject: 1, selection: ["roi": "V7"])) { error in
            XCTAssertEqual((error as? BERGError)?.message,
                           "Invalid ROI 'V7' for fmri-kay2013-css_prf. Valid ROIs: V1, V2, V3, hV4")
        }
        XCTAssertThrowsError(try registry.resolve(m, subject: 9, selection: ["roi": "V1"])) { error in
            guard case BERGError.invalidParameter(_, "subject", "9", ["1"]) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try registry.resolve(m, subject: 1, selection: ["roi": "V1", "hemi": "lh"])) { error in
            XCTAssertTrue((error as? BERGError)?.message.contains("unknown selection key 'hemi'") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try registry.resolve(m, subject: 1, selection: [:])) { error in
            XCTAssertTrue((error as? BERGError)?.message.contains("'roi' is required. Valid values: V1, V2, V3, hV4") ?? false, "\(error)")
        }
    }

    func testUserFoldersAddAndOverride() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = BuiltinManifests.files.first { $0.name == "fmri-kay2013-css_prf.yaml" }!.text
        try text.replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: fmri-copy")
            .write(to: folder.appendingPathComponent("fmri-copy.yaml"), atomically: true, encoding: .utf8)
        try text.replacingOccurrences(of: "version: \"1.0\"", with: "version: \"9.9\"")
            .write(to: folder.appendingPathComponent("fmri-kay2013-css_prf.yaml"), atomically: true, encoding: .utf8)

        // Colon-separated; empty parts are skipped.
        let registry = try Registry.standard(adding: [], environment: ["BERG_REGISTRY_PATH": ":" + folder.path + ":"])
        let builtins = try Registry.standard(adding: [], environment: [:]).listModels()
        XCTAssertEqual(registry.listModels(), (builtins + ["fmri-copy"]).sorted(), "a user folder adds its models to the built-in ones")
        XCTAssertEqual(try registry.manifest("fmri-kay2013-css_prf").version, "9.9", "a user folder overrides a built-in id")
        XCTAssertEqual(registry.entries["fmri-copy"]?.source, folder.appendingPathComponent("fmri-copy.yaml").path)

        try "model_id: broken\n".write(to: folder.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Registry(directories: [folder])) { error in
            guard case BERGError.invalidManifest(let file, _, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(file.hasSuffix("broken.yaml"))
            XCTAssertTrue(message.contains("missing required key"), message)
        }
        XCTAssertThrowsError(try Registry(directories: [folder.appendingPathComponent("missing")]))
    }

    /// A `text` selection key takes any non-empty string (the encoder checks it), lists no
    /// valid values, and is left out of the enumerated selections.
    func testTextSelectionKeysTakeAnyString() throws {
        let registry = try Registry(directories: [])
        let m = try registry.manifest("eeg-things_eeg_2-vit_b_32")
        XCTAssertEqual(m.parameters.selection.properties["channels"]?.isText, true)
        XCTAssertEqual(try registry.resolve(m, subject: 1, selection: ["channels": "Oz,Cz", "timepoints": "20:60"]),
                       ["channels": "Oz,Cz", "timepoints": "20:60"])
        XCTAssertThrowsError(try registry.resolve(m, subject: 1, selection: ["channels": " "])) { error in
            XCTAssertTrue("\(error)".contains("'channels' is empty"), "\(error)")
        }
        XCTAssertEqual(m.allSelections, [Selection()], "text keys have no values to enumerate")
        let fsaverage = try registry.manifest("fmri-nsd_fsaverage-vit_b_32")
        XCTAssertEqual(fsaverage.allSelections.count, 1 + 32, "no selection, then each ROI")

        let text = BuiltinManifests.files.first { $0.name == "eeg-things_eeg_2-vit_b_32.yaml" }!.text
        let file = "registry/eeg-things_eeg_2-vit_b_32.yaml"
        XCTAssertThrowsError(try ManifestLoader.load(yaml: text.replacingOccurrences(
            of: "      channels:\n        type: text\n", with: "      channels:\n        type: text\n        valid_values: [Oz]\n"), file: file)) { error in
            XCTAssertTrue("\(error)".contains("a text key takes any string, so it lists no valid_values"), "\(error)")
        }
        XCTAssertThrowsError(try ManifestLoader.load(yaml: text.replacingOccurrences(
            of: "  subject:\n    type: int\n", with: "  subject:\n    type: text\n"), file: file)) { error in
            XCTAssertTrue("\(error)".contains("text is for selection keys"), "\(error)")
        }
        XCTAssertThrowsError(try ManifestLoader.load(yaml: text.replacingOccurrences(
            of: "      channels:\n        type: text\n", with: "      channels:\n        type: string\n"), file: file)) { error in
            XCTAssertTrue("\(error)".contains("expected at least one value"), "\(error)")
        }
    }
}
