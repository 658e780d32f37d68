import BERGCore
import BERGRegistry
@testable import BERGStore
import Foundation
import XCTest

/// Where a published index is, and the store reading `file://` sources like downloads.
final class IndexLocationTests: StoreTestCase {
    func testRemoteURLsNameTheIndexFileAndPlainHTTPOnlyOnLoopback() throws {
        XCTAssertEqual(try IndexLocation("https://lab.org/berg").url.absoluteString, "https://lab.org/berg/index.yaml")
        XCTAssertEqual(try IndexLocation("https://lab.org/berg/").url.absoluteString, "https://lab.org/berg/index.yaml")
        XCTAssertEqual(try IndexLocation("https://lab.org/berg/models.yaml").url.absoluteString, "https://lab.org/berg/models.yaml")
        XCTAssertEqual(try IndexLocation("http://127.0.0.1:8080").url.absoluteString, "http://127.0.0.1:8080/index.yaml")
        XCTAssertNoThrow(try IndexLocation("http://localhost/x/index.yaml"))
        XCTAssertNoThrow(try IndexLocation("http://[::1]:9/index.yaml"))
        for refused in ["http://lab.org/index.yaml", "http://10.0.0.1/index.yaml", "ftp://lab.org/index.yaml"] {
            XCTAssertThrowsError(try IndexLocation(refused)) { error in
                XCTAssertTrue((error as? BERGError)?.isUsageError ?? false, "\(error)")
            }
        }
        XCTAssertEqual(try IndexLocation("http://127.0.0.1:8080/lab/index.yaml").cacheFolder, "registries/127.0.0.1_8080/lab")
    }

    func testLocalFoldersNeedAnIndex() throws {
        XCTAssertThrowsError(try IndexLocation(home.path)) { XCTAssertTrue("\($0)".contains("holds no index.yaml"), "\($0)") }
        try "format: 1\nmodels: []\n".write(to: home.appendingPathComponent("index.yaml"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try IndexLocation(home.path).url.path, home.appendingPathComponent("index.yaml").path)
        XCTAssertEqual(try IndexLocation("file://" + home.path).url.path, home.appendingPathComponent("index.yaml").path)
        XCTAssertTrue(try IndexLocation(home.path).isLocal)
    }

    func testFileURLSourcesAreCopiedIntoTheCacheAndChecked() throws {
        let published = home.appendingPathComponent("published")
        try FileManager.default.createDirectory(at: published, withIntermediateDirectories: true)
        let file = published.appendingPathComponent("w.bin")
        try Data("weights".utf8).write(to: file)
        let digest = try SHA256Hex.of(file: file)
        var manifest = try Registry(directories: []).manifest("fmri-kay2013-css_prf")
        manifest.artifacts = [Artifact(name: "weights", source: .https, url: URL(fileURLWithPath: file.path).absoluteString, sha256: digest)]
        let store = ArtifactStore(home: home.appendingPathComponent("cache"), options: StoreOptions())
        let local = try store.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])["weights"]
        XCTAssertEqual(local?.path, home.appendingPathComponent("cache/file" + file.path).path)
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(local)), Data("weights".utf8))

        manifest.artifacts[0].url = URL(fileURLWithPath: published.appendingPathComponent("other.bin").path).absoluteString
        try Data("changed".utf8).write(to: published.appendingPathComponent("other.bin"))
        XCTAssertThrowsError(try store.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])) { error in
            guard case BERGError.checksumMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("cache/file" + published.path + "/other.bin").path))
    }
}
