import BERGCore
import BERGRegistry
import BERGStore
import Foundation
import XCTest

/// The `pip` source against a wheel built here and served by `--find-links` (no index, no network).
final class PipWheelTests: StoreTestCase {
    let memberBytes = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) })

    /// Builds `bergfixture-1.0-py3-none-any.whl` in `wheels/` and returns its SHA-256 (hashlib's).
    func buildWheel() throws -> String {
        let wheels = work.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        let member = work.appendingPathComponent("member.bin")
        try memberBytes.write(to: member)
        let output = try python("""
        import hashlib, sys, zipfile
        folder, member = sys.argv[1], sys.argv[2]
        path = folder + "/bergfixture-1.0-py3-none-any.whl"
        files = {
            "bergfixture/__init__.py": b"",
            "bergfixture/models/subj1_V1_model.pkl": open(member, "rb").read(),
            "bergfixture/models/subj2_V1_model.pkl": b"other subject",
            "bergfixture-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: bergfixture\\nVersion: 1.0\\n",
            "bergfixture-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
        }
        record = "".join(name + ",,\\n" for name in files) + "bergfixture-1.0.dist-info/RECORD,,\\n"
        files["bergfixture-1.0.dist-info/RECORD"] = record.encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        print(hashlib.sha256(open(path, "rb").read()).hexdigest())
        """, [wheels.path, member.path])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func pipManifest(sha256: String?) throws -> Manifest {
        var artifact: [String: Any] = ["name": "regression", "source": "pip", "requirement": "bergfixture==1.0",
                                       "members": ["bergfixture/models/subj{subject}_{roi}_model.pkl"]]
        if let sha256 { artifact["sha256"] = sha256 }
        return try manifest(artifacts: [artifact])
    }

    func pipOptions() -> StoreOptions {
        StoreOptions(pipExtraArgs: ["--no-index", "--find-links", work.appendingPathComponent("wheels").path])
    }

    func testWheelMemberIsFetchedCheckedAndExtracted() throws {
        let sha = try buildWheel()
        let store = ArtifactStore(home: home, options: pipOptions())
        let fetched = try store.localFiles(for: pipManifest(sha256: sha), subject: 1, selection: ["roi": "V1"])
        let url = try XCTUnwrap(fetched["regression"])
        XCTAssertEqual(url.path, home.appendingPathComponent("pip/bergfixture-1.0/bergfixture/models/subj1_V1_model.pkl").path)
        XCTAssertEqual(try Data(contentsOf: url), memberBytes)
        // Only the member asked for is kept; the wheel and the staging folder are gone.
        XCTAssertEqual(files(under: home.appendingPathComponent("pip")).filter { !$0.hasSuffix(".lock") },
                       ["bergfixture-1.0/bergfixture/models/subj1_V1_model.pkl"])
        // Offline, the cached member is still found.
        let offline = ArtifactStore(home: home, options: StoreOptions(offline: true))
        XCTAssertEqual(try offline.localFiles(for: pipManifest(sha256: sha), subject: 1, selection: ["roi": "V1"])["regression"], url)
    }

    func testSeveralMembersComeFromOneWheelIntoOneFolder() throws {
        let sha = try buildWheel()
        let manifest = try self.manifest(artifacts: [["name": "regression", "source": "pip", "requirement": "bergfixture==1.0", "sha256": sha,
                                                      "members": ["bergfixture/models/subj{subject}_{roi}_model.pkl",
                                                                  "bergfixture/models/subj2_{roi}_model.pkl"]]])
        let store = ArtifactStore(home: home, options: pipOptions())
        let folder = try XCTUnwrap(store.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])["regression"])
        XCTAssertEqual(folder.path, home.appendingPathComponent("pip/bergfixture-1.0").path)
        XCTAssertEqual(files(under: folder), ["bergfixture/models/subj1_V1_model.pkl", "bergfixture/models/subj2_V1_model.pkl"])
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("bergfixture/models/subj2_V1_model.pkl")), Data("other subject".utf8))
    }

    func testWheelWithTheWrongChecksumIsRefused() throws {
        _ = try buildWheel()
        let store = ArtifactStore(home: home, options: pipOptions())
        XCTAssertThrowsError(try store.localFiles(for: pipManifest(sha256: String(repeating: "1", count: 64)), subject: 1, selection: ["roi": "V1"])) { error in
            guard case BERGError.checksumMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(files(under: home.appendingPathComponent("pip")).filter { !$0.hasSuffix(".lock") }, [])
    }

    func testMissingPackageIsACleanError() throws {
        _ = try buildWheel()
        let manifest = try self.manifest(artifacts: [["name": "regression", "source": "pip", "requirement": "bergfixture==9.9",
                                                      "members": ["bergfixture/x.pkl"]]])
        XCTAssertThrowsError(try ArtifactStore(home: home, options: pipOptions()).localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])) { error in
            guard case BERGError.downloadFailed(let what, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "bergfixture==9.9")
        }
    }
}
