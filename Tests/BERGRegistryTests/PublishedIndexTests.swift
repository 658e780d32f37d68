import BERGCore
@testable import BERGRegistry
import Foundation
import XCTest

/// The published index (`index.yaml`), version order, templated artifacts' file names, and the
/// manifest YAML that `berg publish` writes.
final class PublishedIndexTests: XCTestCase {
    let sha = String(repeating: "ab", count: 32)

    func testIndexRoundTripsSortedAndNewestVersionWins() throws {
        let index = PublishedIndex(models: [
            .init(modelID: "lab-b", version: "1.10", manifest: "lab-b/1.10/manifest.yaml", sha256: sha),
            .init(modelID: "lab-b", version: "1.9", manifest: "lab-b/1.9/manifest.yaml", sha256: sha),
            .init(modelID: "lab-a", version: "2.0", manifest: "lab-a/2.0/manifest.yaml", sha256: sha),
        ])
        let text = try index.yamlText()
        let read = try PublishedIndex.load(yaml: text, file: "index.yaml")
        XCTAssertEqual(read.models.map { "\($0.modelID)@\($0.version)" }, ["lab-a@2.0", "lab-b@1.9", "lab-b@1.10"])
        XCTAssertEqual(read.newest.map(\.version), ["2.0", "1.10"])
        XCTAssertTrue(ModelVersion("1.2.0") < ModelVersion("1.10"))
        XCTAssertTrue(ModelVersion("1.0") < ModelVersion("1.0.1"))
        XCTAssertTrue(ModelVersion("2.0-beta") < ModelVersion("2.0-rc"))
    }

    func testIndexIsReadStrictly() {
        func problem(_ yaml: String) -> String {
            do { _ = try PublishedIndex.load(yaml: yaml, file: "index.yaml"); return "no error" } catch { return "\(error)" }
        }
        let entry = "  - {model_id: a, version: '1', manifest: a/1/manifest.yaml, sha256: \(sha)}"
        XCTAssertTrue(problem("format: 1\nmodels:\n\(entry)\nextra: 1\n").contains("unknown key 'extra'"))
        XCTAssertTrue(problem("format: 2\nmodels: []\n").contains("this build reads format 1"))
        XCTAssertTrue(problem("format: 1\nmodels:\n\(entry)\n\(entry)\n").contains("listed twice"))
        XCTAssertTrue(problem("format: 1\nmodels:\n  - {model_id: a, version: '1', manifest: ../a.yaml, sha256: \(sha)}\n").contains("without '..'"))
        XCTAssertTrue(problem("format: 1\nmodels:\n  - {model_id: a, version: '1', manifest: /etc/a.yaml, sha256: \(sha)}\n").contains("relative"))
        XCTAssertTrue(problem("format: 1\nmodels:\n  - {model_id: a, version: '1', manifest: a.yaml, sha256: abc}\n").contains("64 hexadecimal"))
        XCTAssertTrue(problem("format: 1\nmodels:\n  - {model_id: a, version: '1', manifest: a.yaml}\n").contains("missing required key 'sha256'"))
    }

    func testTemplatedFilesAreNamedAfterTheFixedFolder() {
        let template = "https://lab.org/m/1.0/w_sub-{subject:02}_roi-{roi}.pt"
        XCTAssertEqual(Artifact.fixedFolder(of: template), "https://lab.org/m/1.0/")
        XCTAssertEqual(Artifact.fileKey(template: template, subject: 1, selection: ["roi": "V1"]), "w_sub-01_roi-V1.pt")
        XCTAssertEqual(Artifact.fileKey(template: "https://lab.org/m/{roi}/w.pt", subject: 1, selection: ["roi": "V2"]), "V2/w.pt")
        var artifact = Artifact(name: "weights", source: .https, url: template)
        artifact.files = ["w_sub-01_roi-V1.pt": FileChecksum(sha256: sha, size: 5)]
        XCTAssertEqual(artifact.checksum(subject: 1, selection: ["roi": "V1"]).sha256, sha)
        XCTAssertNil(artifact.checksum(subject: 1, selection: ["roi": "V2"]).sha256)
    }

    func testPublishedManifestYAMLLoadsBackAndKeepsTheSchemaOrder() throws {
        for file in BuiltinManifests.files {
            let manifest = try ManifestLoader.load(yaml: file.text, file: file.name)
            var withFiles = manifest
            if !withFiles.artifacts.isEmpty {
                withFiles.artifacts[0].sha256 = nil
                withFiles.artifacts[0].files = ["b.pt": FileChecksum(sha256: sha, size: 2), "a.pt": FileChecksum(sha256: sha, size: 1)]
            }
            let text = try withFiles.orderedYAMLText()
            XCTAssertEqual(try ManifestLoader.load(yaml: text, file: "manifest.yaml"), withFiles, file.name)
            XCTAssertTrue(text.hasPrefix("model_id: \(manifest.modelID)\nversion: '\(manifest.version)'\n"), text)
            if !withFiles.artifacts.isEmpty {
                XCTAssertLessThan(try XCTUnwrap(text.range(of: "a.pt:")).lowerBound, try XCTUnwrap(text.range(of: "b.pt:")).lowerBound)
            }
        }
    }

    func testFileChecksumsAreChecked() {
        let text = BuiltinManifests.files.first { $0.name == "fmri-nsd-fwrf.yaml" }!.text
            .replacingOccurrences(of: "    description: The trained network (torch.save checkpoint).",
                                  with: "    files: {weights_sub-01_roi-V1.pt: {sha256: nothex, size: 3}}")
        XCTAssertThrowsError(try ManifestLoader.load(yaml: text, file: "fmri-nsd-fwrf.yaml")) { error in
            XCTAssertTrue("\(error)".contains("files.weights_sub-01_roi-V1.pt.sha256"), "\(error)")
        }
    }

    func testRegistryListNamesAndFile() throws {
        XCTAssertNoThrow(try RegistryList.checkName("lab-1.v2_x"))
        XCTAssertThrowsError(try RegistryList.checkName("-lab"))
        XCTAssertThrowsError(try RegistryList.checkName("lab name"))
        let list = RegistryList(registries: [.init(name: "lab", url: "https://lab.org/index.yaml")])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("registries-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try list.yamlText().write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try RegistryList.load(file), list)
        XCTAssertEqual(try RegistryList.load(file.appendingPathExtension("missing")), RegistryList())
        try "registries:\n  - {name: lab}\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RegistryList.load(file)) { XCTAssertTrue("\($0)".contains("missing required key 'url'"), "\($0)") }
    }
}
