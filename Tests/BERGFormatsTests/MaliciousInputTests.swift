import XCTest
import BERGCore
@testable import BERGFormats

/// Hostile and broken files: each must fail with a BERGError (or read as inert), never crash,
/// never run anything, never allocate what a small file merely declares.
final class MaliciousInputTests: XCTestCase {
    private func bytes(_ text: String) -> Data { Data(text.utf8) }

    private func assertBERGError(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), what, file: file, line: line) { error in
            XCTAssertTrue(error is BERGError, "\(what): \(error) is not a BERGError", file: file, line: line)
        }
    }

    func testOsSystemPickleIsInertAndRefusedAsWeights() throws {
        let marker = "/tmp/berg_pwned"
        try? FileManager.default.removeItem(atPath: marker)
        for name in ["os_system_p2.pkl", "os_system_p4.pkl"] {
            let value = try PickleMachine.load(try PickleFixtures.data(name), path: name)
            let object = try XCTUnwrap(value["weight"]?.object, name)
            XCTAssertTrue(["posix.system", "os.system", "nt.system"].contains(object.className), object.className)
            XCTAssertEqual(object.args?[0]?.string, "echo this must never run > /tmp/berg_pwned")
            XCTAssertThrowsError(try value.stateDict(path: name)) { error in
                XCTAssertTrue("\(error)".contains("'weight'"), "\(error)")
            }
            XCTAssertThrowsError(try value["weight"]!.requireTensor("weight"))
            XCTAssertEqual(value["bias"]?.tensor?.shape, [2])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the pickle's command ran")
    }

    func testTruncationAtEveryByteThrows() throws {
        let cases: [(String, (Data, String) throws -> Void)] = [
            ("small_p0.pkl", { d, p in _ = try PickleMachine.load(d, path: p) }),
            ("small_p2.pkl", { d, p in _ = try PickleMachine.load(d, path: p) }),
            ("os_system_p4.pkl", { d, p in _ = try PickleMachine.load(d, path: p) }),
            ("arrays_in_pickle.pkl", { d, p in _ = try PickleMachine.load(d, path: p) }),
            ("metadata_nested_dict.npy", { d, p in _ = try NPYFile.decodeObject(d, path: p) }),
            ("big_endian.npy", { d, p in _ = try NPYFile.decode(d, path: p) }),
            ("legacy.pth", { d, p in _ = try TorchCheckpoint(data: d, path: p) }),
            ("tiny.pt", { d, p in _ = try TorchCheckpoint(data: d, path: p) }),
            ("arrays_compressed.npz", { d, p in _ = try ZipArchive(data: d, path: p).allContents().map { try NPYFile.decode($0.data, path: p) } }),
        ]
        for (name, read) in cases {
            let full = try PickleFixtures.data(name)
            XCTAssertNoThrow(try read(full, name), "\(name) whole")
            for length in 0..<full.count {
                let prefix = full.prefix(length)
                XCTAssertThrowsError(try read(prefix, name), "\(name) cut at \(length) bytes") { error in
                    XCTAssertTrue(error is BERGError, "\(name) cut at \(length): \(error)")
                }
            }
        }
    }

    func testHugeDeclaredSizesAreRefusedBeforeAllocating() {
        // BINUNICODE8 / BINBYTES8 / BINBYTES / FRAME declaring far more than the file holds.
        let huge8: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F]
        for op: UInt8 in [0x8D, 0x8E, 0x96, 0x95] {
            assertBERGError("opcode \(op)") { _ = try PickleMachine.load(Data([0x80, 0x04, op] + huge8 + [0x2E]), path: "huge") }
        }
        assertBERGError("BINBYTES") { _ = try PickleMachine.load(Data([0x80, 0x03, 0x42, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]), path: "huge") }
        // LONG4 of 2 GB.
        assertBERGError("LONG4") { _ = try PickleMachine.load(Data([0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]), path: "huge") }

        // A NumPy array declaring 10^9 and 10^12 float32 elements with 4 bytes of data.
        for count in ["1000000000", "1000000000000", "4611686018427387904"] {
            let array = "cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR(I1\n(I\(count)\nI\(count)\ntcnumpy\ndtype\n(S'f4'\nI00\nI01\ntR(I3\nS'<'\nNNNI-1\nI-1\nI0\ntbI00\nS'\\x00\\x00\\x00\\x00'\ntb."
            assertBERGError("ndarray of \(count)") { _ = try PickleMachine.load(self.bytes(array), path: "array") }
        }
        // A PyTorch view reaching far past its 4-element storage.
        let storage = TorchStorage(key: "0", dtype: .float32, data: Data(count: 16))
        let view = "ctorch._utils\n_rebuild_tensor_v2\n(P0\nI0\n(I1000000\nI1000000\nt(I1000000\nI1\ntI00\nNtR."
        assertBERGError("tensor view") {
            _ = try PickleMachine.load(self.bytes(view), path: "view", persistentLoad: { _ in .storage(storage) })
        }
        // The same view within bounds reads (the pickle text itself is sound).
        let small = "ctorch._utils\n_rebuild_tensor_v2\n(P0\nI1\n(I3\nt(I1\ntI00\nNtR."
        XCTAssertEqual(try PickleMachine.load(bytes(small), path: "view", persistentLoad: { _ in .storage(storage) }).tensor?.shape, [3])

        // An .npy header declaring a huge shape over 8 bytes of data.
        for shape in ["(1000000000000,)", "(4611686018427387904, 4)"] {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
            header += String(repeating: " ", count: 63 - (10 + header.count) % 64) + "\n"
            let npy = Data(NPYFile.magic + [1, 0, UInt8(header.count), 0]) + bytes(header) + Data(count: 8)
            assertBERGError("npy \(shape)") { _ = try NPYFile.decode(npy, path: "huge.npy") }
        }
    }

    func testDeepNestingCyclesAndReferenceBombs() {
        // 100,000 nested lists.
        let deep = Data([0x80, 0x02] + [UInt8](repeating: 0x5D, count: 100_000) + [UInt8](repeating: 0x61, count: 99_999) + [0x2E])
        XCTAssertThrowsError(try PickleMachine.load(deep, path: "deep")) { error in
            guard case BERGError.limitExceeded = error else { return XCTFail("\(error)") }
        }
        // A list that contains itself.
        assertBERGError("cycle") { _ = try PickleMachine.load(Data([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]), path: "cycle") }
        // 40 levels of lists holding 10 references to the level below: 10^40 elements expanded.
        var bomb: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00]
        for level in 1...40 {
            bomb += [0x28] + [UInt8](repeating: 0, count: 10).flatMap { _ in [0x68, UInt8(level - 1)] } + [0x6C, 0x71, UInt8(level)]
        }
        bomb += [0x2E]
        XCTAssertThrowsError(try PickleMachine.load(Data(bomb), path: "bomb")) { error in
            guard case BERGError.limitExceeded = error else { return XCTFail("\(error)") }
        }
        // Stack and memo misuse.
        assertBERGError("underflow") { _ = try PickleMachine.load(Data([0x80, 0x02, 0x2E]), path: "empty") }
        assertBERGError("missing memo") { _ = try PickleMachine.load(Data([0x80, 0x02, 0x6A, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]), path: "memo") }
        assertBERGError("unknown opcode") { _ = try PickleMachine.load(Data([0x80, 0x02, 0xFF, 0x2E]), path: "op") }
        assertBERGError("protocol 9") { _ = try PickleMachine.load(Data([0x80, 0x09, 0x4E, 0x2E]), path: "proto") }
        assertBERGError("out-of-band buffer") { _ = try PickleMachine.load(Data([0x80, 0x05, 0x97, 0x2E]), path: "buffer") }
    }

    /// The central-directory record of `name` in a zip.
    private func centralEntry(_ data: Data, _ name: String) -> Int? {
        let needle = Data(name.utf8)
        var i = 0
        while i + 46 < data.count {
            if data[i] == 0x50, data[i + 1] == 0x4B, data[i + 2] == 0x01, data[i + 3] == 0x02 {
                let n = Int(data[i + 28]) | Int(data[i + 29]) << 8
                if data[(i + 46)..<(i + 46 + n)] == needle { return i }
            }
            i += 1
        }
        return nil
    }

    func testBadZipEntriesThrow() throws {
        let original = try PickleFixtures.data("fwrf_checkpoint.pt")
        let entry = try XCTUnwrap(centralEntry(original, "fwrf_checkpoint/data.pkl"))
        let patches: [(String, Int, [UInt8])] = [
            ("unknown compression method", entry + 10, [99, 0]),
            ("local header past the end", entry + 42, [0xF0, 0xFF, 0xFF, 0x7F]),
            ("compressed size past the end", entry + 20, [0xF0, 0xFF, 0xFF, 0x7F]),
            ("stored sizes disagree", entry + 24, [0x01, 0x00, 0x00, 0x00]),
        ]
        for (what, offset, newBytes) in patches {
            var bad = original
            bad.replaceSubrange(offset..<(offset + newBytes.count), with: newBytes)
            assertBERGError(what) { _ = try TorchCheckpoint(data: bad, path: "bad.pt") }
        }
        // A storage entry shorter than the tensor that uses it.
        let storageEntry = try XCTUnwrap(centralEntry(original, "fwrf_checkpoint/data/0"))
        var short = original
        short.replaceSubrange((storageEntry + 20)..<(storageEntry + 28), with: [1, 0, 0, 0, 1, 0, 0, 0])
        assertBERGError("short storage") { _ = try TorchCheckpoint(data: short, path: "short.pt") }
        // Central directory declaring more entries than fit.
        var many = original
        let eocd = many.count - 22
        many.replaceSubrange((eocd + 8)..<(eocd + 12), with: [0xFF, 0xFF, 0xFF, 0xFF])
        if let zip64 = many.lastRange(of: Data([0x50, 0x4B, 0x06, 0x06]))?.lowerBound { // PyTorch writes zip64 records
            many.replaceSubrange((zip64 + 24)..<(zip64 + 40), with: [UInt8](repeating: 0xFF, count: 15) + [0x00])
        }
        assertBERGError("entry count") { _ = try ZipArchive(data: many, path: "many.zip") }
        assertBERGError("not a checkpoint") { _ = try TorchCheckpoint(data: Data("hello".utf8), path: "text.pt") }
    }

    func testCorruptDeflateThrows() throws {
        let original = try PickleFixtures.data("arrays_compressed.npz")
        let zip = try ZipArchive(data: original, path: "arrays_compressed.npz")
        let first = try XCTUnwrap(zip.entries.first)
        let nameLength = Int(original[first.localHeaderOffset + 26]) | Int(original[first.localHeaderOffset + 27]) << 8
        let extraLength = Int(original[first.localHeaderOffset + 28]) | Int(original[first.localHeaderOffset + 29]) << 8
        let start = first.localHeaderOffset + 30 + nameLength + extraLength
        for flip in [0, first.compressedSize / 2, first.compressedSize - 1] {
            var bad = original
            bad[start + flip] ^= 0x5A
            assertBERGError("deflate byte \(flip) flipped") {
                _ = try ZipArchive(data: bad, path: "bad.npz").allContents()
            }
        }
    }
}
