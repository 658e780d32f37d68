import BERG
import BERGModels
import BERGRegistry
import Foundation
import XCTest

/// `getModelMetadata` asks the store only for the artifacts the kind's metadata reads, as the
/// kind declares them (`EncoderKind.metadataArtifacts`), so that metadata comes without the
/// weights (issue #12: `metadata img2fmri-bold5000` offline needed the backbone's weights).
final class MetadataArtifactsTests: XCTestCase {
    /// Records which artifacts it was asked for, then stops the call.
    final class RecordingResolver: ArtifactResolving, @unchecked Sendable {
        struct Stop: Error {}
        var asked: [[String]] = []
        func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL] {
            asked.append(manifest.artifacts.map(\.name))
            throw Stop()
        }
    }

    func asked(for id: String, selection: Selection, kinds: EncoderKindRegistry = .shared,
               registries: [URL] = []) throws -> [[String]] {
        let resolver = RecordingResolver()
        let berg = try BERG(registries: registries, artifacts: resolver, kinds: kinds)
        XCTAssertThrowsError(try berg.getModelMetadata(id, subject: 1, selection: selection)) { error in
            XCTAssertTrue(error is RecordingResolver.Stop, "\(error)")
        }
        return resolver.asked
    }

    func testBuiltInKindsAskOnlyForWhatTheirMetadataReads() throws {
        // img2fmri: the subject's package, or with space=mni the group files (the store takes
        // whichever the options make apply); never the backbone.
        XCTAssertEqual(try asked(for: "img2fmri-bold5000", selection: ["roi": "OPA"]), [["package", "group"]], "not the backbone")
        XCTAssertEqual(try asked(for: "fmri-nsd-fwrf", selection: ["roi": "V1"]), [["metadata"]], "not the weights")
        XCTAssertEqual(try asked(for: "eeg-things_eeg_2-vit_b_32", selection: ["channels": "Oz"]), [["metadata"]], "not the weights nor the backbone")
        XCTAssertEqual(EncoderKindRegistry.builtIn.map(\.metadataArtifacts), [[], ["metadata"], ["metadata"], ["package", "group"]])
    }

    /// A kind registered with its metadata artifacts gets only those; one without a metadata
    /// function (its model is built for the metadata) gets every artifact.
    func testRegisteredKindsDeclareTheirMetadataArtifacts() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-metadata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("registry/fmri-kay2013-css_prf.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: fmri-two-files")
            .replacingOccurrences(of: "artifacts: []", with: """
                artifacts:
                  - name: weights
                    source: https
                    url: https://example.org/w.bin
                  - name: voxels
                    source: https
                    url: https://example.org/v.bin
                """)
            .write(to: folder.appendingPathComponent("fmri-two-files.yaml"), atomically: true, encoding: .utf8)
        func kinds(metadataArtifacts: [String]?, withMetadata: Bool) -> EncoderKindRegistry {
            let registry = EncoderKindRegistry()
            if withMetadata {
                registry.register(kind: "css_prf", settings: CSSPRFEncoder.Settings.self,
                                  builder: { context, settings in try CSSPRFEncoder(context: context, settings: settings) },
                                  metadata: { context, _ in try CSSPRFEncoder.kind.metadata(context) },
                                  metadataArtifacts: metadataArtifacts)
            } else {
                registry.register(kind: "css_prf", settings: CSSPRFEncoder.Settings.self,
                                  builder: { context, settings in try CSSPRFEncoder(context: context, settings: settings) },
                                  metadataArtifacts: metadataArtifacts)
            }
            return registry
        }
        XCTAssertEqual(try asked(for: "fmri-two-files", selection: ["roi": "V1"],
                                 kinds: kinds(metadataArtifacts: ["voxels"], withMetadata: true), registries: [folder]), [["voxels"]])
        XCTAssertEqual(try asked(for: "fmri-two-files", selection: ["roi": "V1"],
                                 kinds: kinds(metadataArtifacts: ["voxels"], withMetadata: false), registries: [folder]),
                       [["weights", "voxels"]], "no metadata function: the model is built, from every file")
    }
}
