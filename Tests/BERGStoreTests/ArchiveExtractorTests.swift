import BERGCore
import BERGStore
import Foundation
import XCTest

/// Archives made by Python's tarfile/zipfile (and the zstd tool), extracted with libarchive.
final class ArchiveExtractorTests: StoreTestCase {
    var target: URL { work.appendingPathComponent("box/inside") }

    /// Makes a tar (mode "w", "w:gz") with the given members; `kind` is file, dir, symlink,
    /// hardlink or chardev, and `value` the file's text or the link's target.
    func makeTar(_ name: String, mode: String = "w", _ members: [(String, String, String)]) throws -> URL {
        let url = work.appendingPathComponent(name)
        let spec = try String(data: JSONSerialization.data(withJSONObject: members.map { [$0.0, $0.1, $0.2] }), encoding: .utf8)!
        try python("""
        import io, json, sys, tarfile
        with tarfile.open(sys.argv[1], sys.argv[2]) as tar:
            for path, kind, value in json.loads(sys.argv[3]):
                info = tarfile.TarInfo(path)
                data = None
                if kind == "file":
                    data = value.encode(); info.size = len(data)
                elif kind == "dir":
                    info.type = tarfile.DIRTYPE
                elif kind == "symlink":
                    info.type = tarfile.SYMTYPE; info.linkname = value
                elif kind == "hardlink":
                    info.type = tarfile.LNKTYPE; info.linkname = value
                elif kind == "chardev":
                    info.type = tarfile.CHRTYPE; info.devmajor = 1; info.devminor = 3
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        """, [url.path, mode, spec])
        return url
    }

    func testGoodTarGzAndZipExtract() throws {
        let tgz = try makeTar("good.tar.gz", mode: "w:gz", [("pkg/a.txt", "file", "alpha"), ("pkg/sub", "dir", ""),
                                                             ("pkg/sub/b.txt", "file", "beta"), ("pkg/link", "symlink", "a.txt")])
        let written = try ArchiveExtractor.extract(tgz, into: target)
        XCTAssertEqual(written, ["pkg/a.txt", "pkg/sub", "pkg/sub/b.txt", "pkg/link"])
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("pkg/sub/b.txt"), encoding: .utf8), "beta")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("pkg/link").path), "a.txt")

        let zip = work.appendingPathComponent("good.zip")
        try python("""
        import sys, zipfile
        with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("m/one.bin", b"1" * 1000)
            z.writestr("m/two.bin", b"2" * 10)
        """, [zip.path])
        let zipTarget = work.appendingPathComponent("zipped")
        XCTAssertEqual(try ArchiveExtractor.extract(zip, into: zipTarget, members: ["m/two.bin"]), ["m/two.bin"])
        XCTAssertEqual(files(under: zipTarget), ["m/two.bin"])
        XCTAssertEqual(try Data(contentsOf: zipTarget.appendingPathComponent("m/two.bin")), Data(repeating: UInt8(ascii: "2"), count: 10))
    }

    func testTarZstdExtracts() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd") else { throw XCTSkip("no zstd tool to make the archive") }
        let tar = try makeTar("plain.tar", [("z/data.txt", "file", "zstd works")])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        process.arguments = ["-q", tar.path, "-o", tar.path + ".zst"]
        try process.run()
        process.waitUntilExit()
        try ArchiveExtractor.extract(URL(fileURLWithPath: tar.path + ".zst"), into: target)
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("z/data.txt"), encoding: .utf8), "zstd works")
    }

    /// Each hostile entry is refused, and the folder around the target stays empty.
    func testHostileEntriesAreRefusedAndNothingLeavesTheTarget() throws {
        let cases: [(String, [(String, String, String)])] = [
            ("dotdot", [("ok.txt", "file", "fine"), ("../escaped.txt", "file", "evil")]),
            ("nested-dotdot", [("a/../../escaped.txt", "file", "evil")]),
            ("absolute", [(work.appendingPathComponent("box/escaped.txt").path, "file", "evil")]),
            ("symlink-out", [("link", "symlink", "../"), ("link/escaped.txt", "file", "evil")]),
            ("symlink-absolute", [("link", "symlink", work.appendingPathComponent("box").path)]),
            ("hardlink-out", [("hard", "hardlink", "../outside.txt")]),
            ("device", [("null", "chardev", "")]),
        ]
        let box = work.appendingPathComponent("box")
        for (name, members) in cases {
            try? FileManager.default.removeItem(at: box)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let tar = try makeTar("\(name).tar", members)
            XCTAssertThrowsError(try ArchiveExtractor.extract(tar, into: target), name) { error in
                XCTAssertTrue("\(error)".contains("refused"), "\(name): \(error)")
            }
            XCTAssertEqual(files(under: box).filter { !$0.hasPrefix("inside/") }, [], "\(name) wrote outside the target")
            XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("escaped.txt").path), name)
        }
    }

    /// A symbolic link inside the target cannot be used to write through it later, even when
    /// it points inside.
    func testEntriesThroughALinkAreRefused() throws {
        let tar = try makeTar("through.tar", [("real", "dir", ""), ("alias", "symlink", "real"), ("alias/file.txt", "file", "x")])
        XCTAssertThrowsError(try ArchiveExtractor.extract(tar, into: target))
        XCTAssertFalse(FileManager.default.fileExists(atPath: target.appendingPathComponent("real/file.txt").path))
    }

    func testNotAnArchiveIsACleanError() throws {
        let junk = work.appendingPathComponent("junk.tar.gz")
        try Data("not an archive".utf8).write(to: junk)
        XCTAssertThrowsError(try ArchiveExtractor.extract(junk, into: target)) { error in
            guard case BERGError.corruptFile(let path, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, junk.path)
        }
    }
}
