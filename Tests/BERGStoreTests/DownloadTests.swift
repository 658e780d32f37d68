import BERGCore
import BERGRegistry
@testable import BERGStore
import Foundation
import XCTest

/// Downloads from a local server that fails in each way the issue names.
final class DownloadTests: StoreTestCase {
    func testBucketFilesKeepTheBucketLayoutSoTheFolderIsABergDir() throws {
        let server = try startServer()
        let v1 = try serve(weightsPath(roi: "V1"), sampleBytes(5000, seed: 1))
        let v2 = try serve(weightsPath(roi: "V2"), sampleBytes(7000, seed: 2))
        let manifest = try weightsManifest()
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))

        for (roi, bytes) in [("V1", v1), ("V2", v2)] {
            let files = try store.localFiles(for: manifest, subject: 1, selection: ["roi": roi])
            let expected = home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath(roi: roi))
            XCTAssertEqual(files["weights"]?.standardizedFileURL.path, expected.standardizedFileURL.path)
            XCTAssertEqual(try Data(contentsOf: expected), bytes)
        }
        // The cache's bucket folder holds exactly the bucket's tree (no temporary files left).
        let bucket = home.appendingPathComponent("brain-encoding-response-generator")
        XCTAssertEqual(files(under: bucket).filter { !$0.hasSuffix(".lock") },
                       [weightsPath(roi: "V1"), weightsPath(roi: "V2")])
        // Each first download is pinned by its cache path.
        let pins = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: home.appendingPathComponent("pins.json")))
        XCTAssertEqual(pins["brain-encoding-response-generator/" + weightsPath(roi: "V1")],
                       try sha256sum(bucket.appendingPathComponent(weightsPath(roi: "V1"))))

        // That folder works as --berg-dir for an offline store with an empty cache.
        let other = ArtifactStore(home: work.appendingPathComponent("empty-home"),
                                  options: StoreOptions(bergDir: bucket, offline: true))
        let plan = try other.plan(for: manifest, subject: 1, selection: ["roi": "V2"])
        XCTAssertEqual(plan.map(\.origin), [.bergDir])
        let files = try other.localFiles(for: manifest, subject: 1, selection: ["roi": "V2"])
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(files["weights"])), v2)
        XCTAssertEqual(server.requests().count, 2, "the berg-dir store must not download")
    }

    func testDroppedConnectionResumesWithARangeRequestAndEndsByteIdentical() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(300_000, seed: 3))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("drop")))
        let files = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(files["weights"])), bytes)

        let requests = server.requests(for: weightsPath())
        XCTAssertEqual(requests.count, 2)
        XCTAssertNil(requests[0].range)
        XCTAssertEqual(requests[1].range, "bytes=\(bytes.count / 2)-", "the second try asks only for the missing half")
        XCTAssertFalse(FileManager.default.fileExists(atPath: try XCTUnwrap(files["weights"]).path + ".part"))
    }

    func testPartialFileFromAnEarlierRunIsResumed() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(90_000, seed: 16))
        let final = home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath())
        try FileManager.default.createDirectory(at: final.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.prefix(36_000).write(to: URL(fileURLWithPath: final.path + ".part"))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        _ = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: final), bytes)
        XCTAssertEqual(server.requests(for: weightsPath()).map(\.range), ["bytes=36000-"])
    }

    func testPartialFileLongerThanTheServersStartsAgain() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(10_000, seed: 17))
        let final = home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath())
        try FileManager.default.createDirectory(at: final.deletingLastPathComponent(), withIntermediateDirectories: true)
        try sampleBytes(20_000, seed: 99).write(to: URL(fileURLWithPath: final.path + ".part"))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        _ = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: final), bytes)
        XCTAssertEqual(server.requests(for: weightsPath()).map(\.range), ["bytes=20000-", nil], "416, then the whole file")
    }

    func testSizeComesFromDiskTheManifestOrAHeadRequest() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(12_345, seed: 18))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        let unsized = try store.plan(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])[0]
        XCTAssertEqual(store.size(of: unsized), 12_345)
        XCTAssertEqual(server.requests().map(\.method), ["HEAD"])
        var sized = unsized
        sized.size = 999
        XCTAssertEqual(store.size(of: sized), 999, "the manifest's size, without asking the server")
        XCTAssertEqual(server.requests().count, 1)
        XCTAssertNil(ArtifactStore(home: home, options: options(mirror: server.base("ok"), offline: true)).size(of: unsized))
        XCTAssertEqual(server.requests().count, 1)
    }

    func testServerThatIgnoresRangeMakesTheDownloadStartAgain() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(200_000, seed: 4))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("norange")))
        let files = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(files["weights"])), bytes)
        let requests = server.requests(for: weightsPath())
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests[1].range, "bytes=\(bytes.count / 2)-")
    }

    func testSlowTransferIsCutAndResumed() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(100_000, seed: 5))
        var opts = options(mirror: server.base("slow"))
        opts.lowSpeedTime = 1
        let store = ArtifactStore(home: home, options: opts)
        let files = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(files["weights"])), bytes)
        let requests = server.requests(for: weightsPath())
        XCTAssertEqual(requests.count, 2)
        let resumedAt = try XCTUnwrap(requests[1].range.flatMap { Int($0.dropFirst(6).dropLast()) })
        XCTAssertGreaterThanOrEqual(resumedAt, bytes.count / 4, "the bytes that came before the stall are kept")
    }

    func testCorruptedDownloadIsRefusedAndLeavesNoFile() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(50_000, seed: 6))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("corrupt")))
        assertThrows(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .checksumMismatch(_, let expected, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(expected.contains("ETag"), expected)
        }
        XCTAssertEqual(files(under: home).filter { !$0.hasSuffix(".lock") }, [], "no file, .part or pin is left")
    }

    func testManifestChecksumIsEnforced() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(20_000, seed: 7))
        let right = try sha256sum(served.appendingPathComponent(weightsPath()))
        let wrong = String(repeating: "0", count: 64)
        let bad = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        assertThrows(try bad.localFiles(for: weightsManifest(sha256: wrong), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .checksumMismatch(_, _, let actual) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(actual, right)
        }
        XCTAssertEqual(files(under: home).filter { !$0.hasSuffix(".lock") }, [])
        XCTAssertNoThrow(try bad.localFiles(for: weightsManifest(sha256: right), subject: 1, selection: ["roi": "V1"]))
    }

    func testServiceUnavailableIsRetriedWithBackoff() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(10_000, seed: 8))
        let notices = NoticeLog()
        var opts = options(mirror: server.base("flaky"))
        opts.notice = { notices.append($0) }
        let store = ArtifactStore(home: home, options: opts)
        let files = try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(files["weights"])), bytes)
        XCTAssertEqual(server.requests(for: weightsPath()).count, 3)
        XCTAssertEqual(notices.lines.filter { $0.contains("HTTP 503") }.count, 2)
    }

    func testServiceUnavailableBeyondTheTriesFails() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(10_000, seed: 9))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("flaky"), attempts: 2))
        assertThrows(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .downloadFailed(_, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("HTTP 503") && message.contains("2 tries"), message)
        }
        XCTAssertEqual(server.requests(for: weightsPath()).count, 2)
    }

    func testNotFoundIsACleanErrorWithoutRetries() throws {
        let server = try startServer()
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        assertThrows(try store.localFiles(for: weightsManifest(), subject: 2, selection: ["roi": "V2"])) { error in
            guard case .downloadFailed(let url, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(url.hasSuffix(weightsPath(subject: 2, roi: "V2")), url)
            XCTAssertTrue(message.contains("404"), message)
        }
        XCTAssertEqual(server.requests().count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath(subject: 2, roi: "V2")).path))
    }

    func testConcurrentRequestsDownloadOnceAndTheOtherWaits() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(80_000, seed: 10))
        let manifest = try weightsManifest()
        let notices = NoticeLog()
        let results = NoticeLog()
        let group = DispatchGroup()
        for _ in 0..<2 {
            // Separate stores and so separate lock file descriptors, as two processes would have.
            var opts = options(mirror: server.base("delay"))
            opts.notice = { notices.append($0) }
            let store = ArtifactStore(home: home, options: opts)
            DispatchQueue.global().async(group: group) {
                do {
                    let url = try store.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])["weights"]!
                    results.append(url.path)
                } catch {
                    results.append("error: \(error)")
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(results.lines.count, 2)
        XCTAssertEqual(Set(results.lines).count, 1, "\(results.lines)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: results.lines[0])), bytes)
        XCTAssertEqual(server.requests(for: weightsPath()).count, 1, "downloaded once")
        XCTAssertEqual(notices.lines.filter { $0.contains("Waiting for another process") }.count, 1, "\(notices.lines)")
    }

    func testDownloadLargerThanTheFreeDiskSpaceIsRefusedBeforeItStarts() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(1000, seed: 19))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("huge")))
        assertThrows(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .writeFailed(_, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("not enough free disk space"), message)
        }
        XCTAssertEqual(server.requests().count, 1, "not retried")
        XCTAssertEqual(files(under: home).filter { !$0.hasSuffix(".lock") }, [], "nothing written")
    }

    func testPinnedFileThatChangesAtTheSourceIsRefused() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(30_000, seed: 11))
        let manifest = try weightsManifest()
        let first = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        let url = try XCTUnwrap(first.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])["weights"])
        let firstHash = try sha256sum(url)
        try FileManager.default.removeItem(at: url)

        // The same path, now with other bytes (and an ETag that matches them).
        var changed = try Data(contentsOf: served.appendingPathComponent(weightsPath()))
        changed.append(contentsOf: Array(" changed".utf8))
        let changedFile = work.appendingPathComponent("changed.bin")
        try changed.write(to: changedFile)
        let changedHash = try sha256sum(changedFile)

        let second = ArtifactStore(home: home, options: options(mirror: server.base("changed")))
        assertThrows(try second.localFiles(for: manifest, subject: 1, selection: ["roi": "V1"])) { error in
            XCTAssertTrue(error.message.contains(firstHash) && error.message.contains(changedHash), error.message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".part"))
    }

    func testOfflineNeverTouchesTheNetworkAndNamesWhatIsMissing() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(1000, seed: 12))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok"), offline: true))
        assertThrows(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .artifactMissing(let name, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "weights")
            XCTAssertTrue(message.contains(weightsPath()) && message.contains("BERG_OFFLINE") && message.contains("not in the cache"), message)
        }
        XCTAssertEqual(server.requests().count, 0)
    }

    func testTorchvisionHashPrefixInTheFileNameIsChecked() throws {
        let server = try startServer()
        let bytes = sampleBytes(4000, seed: 13)
        try serve("models/tmp.bin", bytes)
        let prefix = String(try sha256sum(served.appendingPathComponent("models/tmp.bin")).prefix(8))
        try serve("models/tinynet-\(prefix).pth", bytes)
        try serve("models/tinynet-0badf00d.pth", bytes)
        func manifest(_ file: String) throws -> Manifest {
            try self.manifest(artifacts: [["name": "backbone", "source": "https", "url": server.base("ok").absoluteString + "models/" + file]])
        }
        let store = ArtifactStore(home: home, options: options(mirror: nil))
        let good = try store.localFiles(for: manifest("tinynet-\(prefix).pth"), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(good["backbone"]?.path, home.appendingPathComponent("https/127.0.0.1/ok/models/tinynet-\(prefix).pth").path)
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(good["backbone"])), bytes)
        assertThrows(try store.localFiles(for: manifest("tinynet-0badf00d.pth"), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .checksumMismatch = error else { return XCTFail("\(error)") }
        }
    }

    func testArtifactOverrideIsUsedAndStillChecked() throws {
        let given = work.appendingPathComponent("my-weights.pt")
        try sampleBytes(500, seed: 14).write(to: given)
        let right = try sha256sum(given)
        let store = ArtifactStore(home: home, options: StoreOptions(overrides: ["weights": given], offline: true))
        let files = try store.localFiles(for: weightsManifest(sha256: right), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(files["weights"], given)
        assertThrows(try store.localFiles(for: weightsManifest(sha256: String(repeating: "a", count: 64)), subject: 1, selection: ["roi": "V1"])) { error in
            guard case .checksumMismatch = error else { return XCTFail("\(error)") }
        }
    }

    func testProgressReportsBytesAndTotal() throws {
        let server = try startServer()
        let bytes = try serve(weightsPath(), sampleBytes(120_000, seed: 15))
        let log = ProgressLog()
        var opts = options(mirror: server.base("ok"))
        opts.progress = { log.append($0) }
        _ = try ArtifactStore(home: home, options: opts).localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        let last = try XCTUnwrap(log.events.last)
        XCTAssertTrue(last.finished)
        XCTAssertEqual(last.bytes, Int64(bytes.count))
        XCTAssertEqual(last.total, Int64(bytes.count))
    }
}

/// Lines collected from several threads.
final class NoticeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
    var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [DownloadProgress] = []
    func append(_ event: DownloadProgress) { lock.lock(); stored.append(event); lock.unlock() }
    var events: [DownloadProgress] { lock.lock(); defer { lock.unlock() }; return stored }
}
