import BERGCore
import BERGRegistry
import BERGStore
import Foundation
import XCTest

final class CacheTests: StoreTestCase {
    func testHomeFollowsBergHomeThenXDGThenHome() {
        XCTAssertEqual(ArtifactStore.defaultHome(environment: ["BERG_HOME": "/a/b", "XDG_CACHE_HOME": "/x", "HOME": "/h"]).path, "/a/b")
        XCTAssertEqual(ArtifactStore.defaultHome(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]).path, "/x/berg")
        XCTAssertEqual(ArtifactStore.defaultHome(environment: ["HOME": "/h"]).path, "/h/.cache/berg")
    }

    func testOptionsFromEnvironment() throws {
        let options = try StoreOptions(environment: ["BERG_OFFLINE": "1", "BERG_DIR": home.path, "BERG_MIRROR": "http://mirror.example/b/",
                                                     "BERG_PIP_ARGS": "--no-index  --find-links /w"])
        XCTAssertTrue(options.offline)
        XCTAssertEqual(options.bergDir?.path, home.path)
        XCTAssertEqual(options.mirror?.absoluteString, "http://mirror.example/b/")
        XCTAssertEqual(options.pipExtraArgs, ["--no-index", "--find-links", "/w"])
        XCTAssertFalse(try StoreOptions(environment: ["BERG_OFFLINE": "0"]).offline)
    }

    /// A BERG_DIR that is not a folder, or a BERG_MIRROR that is not an http(s) URL, names the
    /// variable instead of being ignored.
    func testBadEnvironmentValuesAreNamed() {
        for (environment, variable) in [(["BERG_DIR": "/nonexistent/berg"], "BERG_DIR"), (["BERG_MIRROR": "ftp://x/"], "BERG_MIRROR")] {
            XCTAssertThrowsError(try StoreOptions(environment: environment)) { error in
                guard case BERGError.invalidArgument(let name, _, _)? = error as? BERGError else { return XCTFail("\(error)") }
                XCTAssertEqual(name, variable)
                XCTAssertTrue((error as? BERGError)?.isUsageError ?? false)
            }
        }
    }

    func testEveryFileOfAModelIsPlannedAcrossSubjectsAndROIs() throws {
        let store = ArtifactStore(home: home, options: StoreOptions(offline: true))
        let files = store.allFiles(of: try weightsManifest())
        XCTAssertEqual(Set(files.compactMap(\.cachePath)), Set([1, 2].flatMap { s in ["V1", "V2"].map { "brain-encoding-response-generator/" + weightsPath(subject: s, roi: $0) } }))
        XCTAssertTrue(files.allSatisfy { $0.origin == .download })
    }

    func testListVerifyAndClean() throws {
        let server = try startServer()
        try serve(weightsPath(roi: "V1"), sampleBytes(3000, seed: 21))
        try serve(weightsPath(roi: "V2"), sampleBytes(4000, seed: 22))
        let manifest = try weightsManifest()
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        let v1 = try XCTUnwrap(store.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])["weights"])
        _ = try store.localFiles(for: manifest, subject: 1, selection: ["roi": "V2"])

        let listed = store.cachedFilesByModel(manifests: [manifest])
        XCTAssertEqual(listed.map(\.modelID), ["test-model"])
        XCTAssertEqual(listed[0].files.map(\.size).reduce(0, +), 7000)

        XCTAssertEqual(try store.verify(manifests: [manifest]).map(\.status), [.ok, .ok])
        // A cached file changed behind the store's back is reported against its pin.
        var bytes = try Data(contentsOf: v1)
        bytes[0] ^= 1
        try bytes.write(to: v1)
        let report = try store.verify(manifests: [manifest], modelID: "test-model")
        XCTAssertEqual(report.filter { if case .mismatch(_, "pins.json") = $0.status { return true }; return false }.map(\.path),
                       ["brain-encoding-response-generator/" + weightsPath(roi: "V1")])
        XCTAssertThrowsError(try store.verify(manifests: [manifest], modelID: "no-such-model"))

        let removed = try store.clean(manifest: manifest)
        XCTAssertEqual(removed.count, 2)
        XCTAssertEqual(store.cachedFiles(), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: home.appendingPathComponent("pins.json").path), "pins outlive the files")
    }
}
