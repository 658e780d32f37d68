import BERGCore
import BERGRegistry
@testable import BERGStore
import Foundation
import XCTest

/// Nothing is left behind in the cache (issue #12): no `.lock` files after a fetch, and after a
/// failed one no empty folders either; and what is known of a file's size before fetching it.
final class CacheLeftoversTests: StoreTestCase {
    /// Every path under `folder`, folders included.
    func everything(under folder: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    func testSuccessfulDownloadLeavesNoLockFiles() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(5000, seed: 51))
        _ = try ArtifactStore(home: home, options: options(mirror: server.base("ok")))
            .localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])
        XCTAssertEqual(files(under: home), ["brain-encoding-response-generator/" + weightsPath(), "pins.json"])
    }

    func testFailedDownloadLeavesNoFoldersOrLocks() throws {
        let server = try startServer()
        let store = ArtifactStore(home: home, options: options(mirror: server.base("ok")))
        XCTAssertThrowsError(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"]))
        XCTAssertEqual(everything(under: home), [], "the 404 left nothing in the cache")

        // A cache folder that does not exist yet is not left behind either.
        let fresh = work.appendingPathComponent("fresh-home")
        let unreachable = ArtifactStore(home: fresh, options: options(mirror: URL(string: "http://127.0.0.1:9/")!, attempts: 1))
        XCTAssertThrowsError(try unreachable.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh.path), "\(everything(under: fresh))")
    }

    /// A partial download is kept to resume from, and so is its folder; only the lock goes.
    func testBrokenDownloadKeepsItsPartialFileButNoLock() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(200_000, seed: 52))
        let store = ArtifactStore(home: home, options: options(mirror: server.base("drop"), attempts: 1))
        XCTAssertThrowsError(try store.localFiles(for: weightsManifest(), subject: 1, selection: ["roi": "V1"]))
        XCTAssertEqual(files(under: home), ["brain-encoding-response-generator/" + weightsPath() + ".part"])
    }

    func testFailedWheelFetchLeavesNothing() throws {
        try FileManager.default.createDirectory(at: work.appendingPathComponent("no-wheels"), withIntermediateDirectories: true)
        let artifact: [String: Any] = ["name": "regression", "source": "pip", "requirement": "bergfixture==1.0",
                                       "members": ["bergfixture/models/subj{subject}_{roi}_model.pkl"]]
        let store = ArtifactStore(home: home, options: StoreOptions(pipExtraArgs: ["--no-index", "--find-links",
                                                                                  work.appendingPathComponent("no-wheels").path]))
        XCTAssertThrowsError(try store.localFiles(for: manifest(artifacts: [artifact]), subject: 1, selection: ["roi": "V1"]))
        XCTAssertEqual(everything(under: home), [])
    }

    /// The lock file is removed as its holder finishes; a process that was waiting on it then
    /// locks a fresh file at the path, which others must wait for in turn.
    func testWaiterLocksAFreshFileAfterTheHolderRemovesIt() throws {
        let path = work.appendingPathComponent("thing.lock").path
        let holding = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        final class Results: @unchecked Sendable { var waited = false; var othersLockedOut = false; var fileThere = false }
        let results = Results()
        DispatchQueue.global().async {
            FileLock.withLock(path) { _ in
                holding.signal()
                Thread.sleep(forTimeInterval: 0.3)
            }
        }
        holding.wait()
        DispatchQueue.global().async {
            FileLock.withLock(path, onWait: { results.waited = true }) { locked in
                results.fileThere = locked && FileManager.default.fileExists(atPath: path)
                let fd = open(path, O_RDWR)
                results.othersLockedOut = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0
                if fd >= 0 { close(fd) }
            }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(results.waited)
        XCTAssertTrue(results.fileThere, "the second holder has a lock file at the path")
        XCTAssertTrue(results.othersLockedOut, "and holds its lock, so a third must wait")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "no lock file once both are done")
    }

    /// Sizes: the server's when online, "not asked" offline, and a wheel's members share the
    /// wheel's size, counted once in the download total.
    func testPlannedSizes() throws {
        let server = try startServer()
        try serve(weightsPath(), sampleBytes(4321, seed: 53))
        let file = try ArtifactStore(home: home, options: options(mirror: server.base("ok")))
            .plan(for: weightsManifest(), subject: 1, selection: ["roi": "V1"])[0]
        XCTAssertEqual(ArtifactStore(home: home, options: options(mirror: server.base("ok"))).plannedSize(of: file), .bytes(4321))
        let offline = ArtifactStore(home: home, options: options(mirror: server.base("ok"), offline: true))
        XCTAssertEqual(offline.plannedSize(of: file), .notAskedOffline)
        XCTAssertEqual(PlannedSize.notAskedOffline.description, "size not known offline (the server says it when online)")

        let artifact: [String: Any] = ["name": "package", "source": "pip", "requirement": "bergfixture==1.0", "size": 2_000_000,
                                       "members": ["a/{roi}.pkl", "b/{roi}.nii.gz"]]
        let members = try offline.plan(for: manifest(artifacts: [artifact]), subject: 1, selection: ["roi": "V1"])
        let sizes = members.map { (file: $0, size: offline.plannedSize(of: $0)) }
        XCTAssertEqual(sizes.map(\.size), Array(repeating: .inWheel(requirement: "bergfixture==1.0", wheelBytes: 2_000_000), count: 2))
        XCTAssertEqual(sizes[0].size.description, "in the bergfixture==1.0 wheel (2.0 MB, fetched once)")
        let total = PlannedSize.download(sizes + [(file: file, size: .notAskedOffline)])
        XCTAssertEqual(total.bytes, 2_000_000)
        XCTAssertEqual(total.unknown, 1)
    }

    /// A zip member that inflates past the size its headers declare is refused, and its file
    /// removed (a bomb stops at the declared size).
    func testArchiveMemberPastItsDeclaredSizeIsRefused() throws {
        let zip = work.appendingPathComponent("lying.zip")
        try python("""
        import struct, sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("m/zeros.bin", bytes(1_000_000))
        data = bytearray(open(sys.argv[1], "rb").read())
        for signature, offset in ((b"PK\\x03\\x04", 22), (b"PK\\x01\\x02", 24)):  # local header, central directory
            at = data.find(signature)
            struct.pack_into("<I", data, at + offset, 1000)
        open(sys.argv[1], "wb").write(bytes(data))
        """, [zip.path])
        let target = work.appendingPathComponent("out")
        XCTAssertThrowsError(try ArchiveExtractor.extract(zip, into: target)) { error in
            XCTAssertTrue("\(error)".contains("inflates past the 1000 bytes its header declares"), "\(error)")
        }
        XCTAssertEqual(files(under: target), [])
    }
}
