import BERGCore
@testable import BERGRegistry
import Foundation
import XCTest

/// The repository root, found from this file's path (tests run from a checkout).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

final class ManifestLoaderTests: XCTestCase {
    let file = "registry/fmri-kay2013-css_prf.yaml"
    var text: String { BuiltinManifests.files.first { $0.name == "fmri-kay2013-css_prf.yaml" }!.text }

    /// The invalidManifest error's key path and message, or a failure.
    func manifestError(_ yaml: String, file: String? = nil) -> (keyPath: String, message: String)? {
        do {
            _ = try ManifestLoader.load(yaml: yaml, file: file ?? self.file)
            XCTFail("expected the manifest to be rejected")
        } catch let BERGError.invalidManifest(errorFile, keyPath, message) {
            XCTAssertEqual(errorFile, file ?? self.file)
            return (keyPath, message)
        } catch {
            XCTFail("expected invalidManifest, got \(error)")
        }
        return nil
    }

    func testBuiltinManifestLoads() throws {
        let m = try ManifestLoader.load(yaml: text, file: file)
        XCTAssertEqual(m.modelID, "fmri-kay2013-css_prf")
        XCTAssertEqual(m.parameters.selection.properties["roi"]?.validStrings, ["V1", "V2", "V3", "hV4"])
        XCTAssertEqual(m.input.shape, ["images", "3", "height", "width"])
        XCTAssertEqual(m.encoder.kind, "css_prf")
        XCTAssertEqual(m.encoder.preprocessing?.squareCrop, true)
        XCTAssertEqual(m.placement, .visualField)
    }

    func testUnknownTopLevelKeyIsNamed() {
        let error = manifestError("colour: red\n" + text)
        XCTAssertEqual(error?.keyPath, "colour")
        XCTAssertTrue(error?.message.contains("unknown key 'colour'") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("model_id") ?? false, "lists the expected keys")
    }

    func testUnknownNestedKeyHasFullPath() {
        let yaml = text.replacingOccurrences(of: "    required: true\n", with: "    required: true\n    requird: false\n")
        let error = manifestError(yaml)
        XCTAssertEqual(error?.keyPath, "parameters.selection.requird")
    }

    func testMissingFieldIsNamed() {
        let yaml = text.replacingOccurrences(of: "license: MIT\n", with: "")
        let error = manifestError(yaml)
        XCTAssertEqual(error?.keyPath, "license")
        XCTAssertTrue(error?.message.contains("missing required key 'license'") ?? false, error?.message ?? "")
    }

    func testWrongTypeSaysWhatWasExpected() {
        let list = manifestError(text.replacingOccurrences(of: "artifacts: []", with: "artifacts: none"))
        XCTAssertEqual(list?.keyPath, "artifacts")
        XCTAssertTrue(list?.message.contains("expected a list, got string 'none'") ?? false, list?.message ?? "")
        let yaml = text.replacingOccurrences(of: "    valid_values: [1]\n", with: "    valid_values: one\n")
        let error = manifestError(yaml)
        XCTAssertEqual(error?.keyPath, "parameters.subject.valid_values")
        XCTAssertTrue(error?.message.contains("expected a list, got string 'one'") ?? false, error?.message ?? "")
    }

    func testUnquotedNumberWhereAStringBelongsSaysToQuoteIt() {
        let error = manifestError(text.replacingOccurrences(of: "version: \"1.0\"", with: "version: 1.0"))
        XCTAssertEqual(error?.keyPath, "version")
        XCTAssertTrue(error?.message.contains("expected a string, got number '1.0'; quote it") ?? false, error?.message ?? "")
    }

    func testWrongScalarTypeIsCaught() {
        let yaml = text.replacingOccurrences(of: "  required: true", with: "  required: maybe")
        let error = manifestError(yaml)
        XCTAssertEqual(error?.keyPath, "parameters.selection.required")
        XCTAssertTrue(error?.message.contains("expected true or false") ?? false, error?.message ?? "")
    }

    func testBadChoiceListsTheChoices() {
        let yaml = text.replacingOccurrences(of: "  dtype: uint8", with: "  dtype: uint7")
        let error = manifestError(yaml)
        XCTAssertEqual(error?.keyPath, "input.dtype")
        XCTAssertTrue(error?.message.contains("float32") ?? false, error?.message ?? "")
    }

    func testModelIDMustMatchFileName() {
        let error = manifestError(text, file: "registry/other-name.yaml")
        XCTAssertEqual(error?.keyPath, "model_id")
    }

    func testArtifactChecks() {
        let artifact = """
        artifacts:
          - name: weights
            source: berg-bucket
            path: weights_sub-{subject:02}_hemi-{hemi}.pt
            size: 12
        """
        let error = manifestError(text.replacingOccurrences(of: "artifacts: []", with: artifact))
        XCTAssertEqual(error?.keyPath, "artifacts[0]")
        XCTAssertTrue(error?.message.contains("{hemi}") ?? false, error?.message ?? "")

        let badSize = artifact.replacingOccurrences(of: "hemi-{hemi}", with: "roi-{roi}").replacingOccurrences(of: "size: 12", with: "size: big")
        XCTAssertEqual(manifestError(text.replacingOccurrences(of: "artifacts: []", with: badSize))?.keyPath, "artifacts[0].size")

        let good = artifact.replacingOccurrences(of: "hemi-{hemi}", with: "roi-{roi}")
        XCTAssertNoThrow(try ManifestLoader.load(yaml: text.replacingOccurrences(of: "artifacts: []", with: good), file: file))
    }

    func testNotYAMLIsAManifestError() {
        XCTAssertNotNil(manifestError("model_id: [unclosed\n"))
        XCTAssertNotNil(manifestError(""))
    }

    func testTemplateExpansion() {
        XCTAssertEqual(Manifest.expand("weights_sub-{subject:02}_roi-{roi}.pt", subject: 1, selection: ["roi": "V1"]),
                       "weights_sub-01_roi-V1.pt")
        XCTAssertEqual(Manifest.expand("sub{subject}/{roi}/{subject:03}", subject: 12, selection: ["roi": "hV4"]),
                       "sub12/hV4/012")
        XCTAssertEqual(ManifestLoader.templateFields("a{subject:02}b{roi}c"), ["subject", "roi"])
    }

    /// The embedded registry is registry/*.yaml, byte for byte (run `make registry` to fix).
    func testEmbeddedRegistryEqualsRegistryFolder() throws {
        let folder = repositoryRoot.appendingPathComponent("registry")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(BuiltinManifests.files.map(\.name), names, "run `make registry` to re-embed registry/")
        for file in BuiltinManifests.files {
            let onDisk = try String(contentsOf: folder.appendingPathComponent(file.name), encoding: .utf8)
            XCTAssertEqual(file.text + "\n", onDisk, "\(file.name) differs from its embedded copy; run `make registry`")
        }
    }

    /// Each committed card is its manifest's rendering (run `make cards` to fix).
    func testCommittedCardsEqualTheirRendering() throws {
        let registry = try Registry(directories: [], includeBuiltin: true)
        let cards = repositoryRoot.appendingPathComponent("model_cards")
        let names = try FileManager.default.contentsOfDirectory(atPath: cards.path).filter { $0.hasSuffix(".md") }.sorted()
        XCTAssertEqual(names, registry.listModels().map { "\($0).md" }, "one card per manifest")
        for id in registry.listModels() {
            let committed = try String(contentsOf: cards.appendingPathComponent("\(id).md"), encoding: .utf8)
            XCTAssertEqual(committed, CardRenderer.render(try registry.manifest(id)), "model_cards/\(id).md is stale; run `make cards`")
        }
    }

    func testCardHasItsSections() throws {
        let card = CardRenderer.render(try ManifestLoader.load(yaml: text, file: file))
        for section in ["# fmri-kay2013-css_prf", "## Description", "## Input", "## Output", "## Parameters",
                        "### Selection", "## Metadata", "## Usage", "## References", "`prf_sigma_deg`",
                        "berg encode fmri-kay2013-css_prf --subject 1 --roi V1", "10.1152/jn.00105.2013"] {
            XCTAssertTrue(card.contains(section), "card lacks \(section)")
        }
    }
}
