import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

/// The chunked, parallel gzip writer behind `.nii.gz` output, and streamed atomic files.
final class GzipTests: XCTestCase {
    /// Bytes with long runs (like a mostly-NaN volume) and stretches of noise.
    private func sample(_ count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { i in
            if (i / 5000) % 3 == 0 { return 0x7F }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    private func streamed(_ bytes: [UInt8], level: Int32?, threads: Int, chunk: Int) throws -> Data {
        var out = Data()
        try Gzip.stream(count: bytes.count, level: level, threads: threads, chunkBytes: chunk, fill: { range, buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
        }, sink: { out.append(contentsOf: $0) })
        return out
    }

    /// A plain table-driven CRC-32 (the gzip polynomial), independent of zlib's crc32_combine.
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        let table = (0..<256).map { n -> UInt32 in
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            return c
        }
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// Many chunks on several threads make one gzip member whose trailer holds the CRC-32 and
    /// length of all the bytes, and which inflates to exactly those bytes.
    func testChunkedStreamIsOneMemberThatInflatesToTheInput() throws {
        for (count, chunk, threads) in [(123_457, 4096, 3), (123_457, 1000, 1), (50_000, 50_000, 4), (7, 4096, 2), (0, 64, 2)] {
            let bytes = sample(count)
            let gz = try streamed(bytes, level: 1, threads: threads, chunk: chunk)
            let what = "\(count) bytes in chunks of \(chunk) on \(threads) threads"
            XCTAssertEqual(Array(gz.prefix(3)), [0x1F, 0x8B, 8], what)
            let trailer = Array(gz.suffix(8))
            let crc = trailer[0..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let size = trailer[4..<8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            XCTAssertEqual(crc, crc32(bytes), what)
            XCTAssertEqual(size, UInt32(count), what)
            // One byte more than the data: the inflater reads through the trailer, where zlib
            // checks the CRC and length, and would fail on a second member's missing header.
            XCTAssertEqual([UInt8](try Gzip.inflate(gz, limit: count + 1, path: what)), bytes, what)
            if count > 100_000 { XCTAssertLessThan(gz.count, count * 3 / 4, "runs compress: \(what)") }
        }
    }

    func testUncompressedStreamPassesBytesThrough() throws {
        let bytes = sample(10_001)
        XCTAssertEqual([UInt8](try streamed(bytes, level: nil, threads: 3, chunk: 999)), bytes)
    }

    /// The chunks' compressed bytes do not depend on how many threads made them.
    func testThreadCountDoesNotChangeTheOutput() throws {
        let bytes = sample(80_000)
        XCTAssertEqual(try streamed(bytes, level: 1, threads: 1, chunk: 3000), try streamed(bytes, level: 1, threads: 5, chunk: 3000))
    }

    /// A failure while streaming leaves neither a file at the destination nor a temporary file.
    func testFailedStreamLeavesNothingBehind() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let path = dir + "/out.bin"
        struct Interrupted: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: path) { sink in
            try [UInt8](repeating: 1, count: 100).withUnsafeBytes { try sink($0) }
            throw BERGError.invalidInput("stopped halfway")
        }) { error in
            guard case BERGError.invalidInput? = error as? BERGError else { return XCTFail("the producer's error is kept, got \(error)") }
        }
        XCTAssertThrowsError(try AtomicFile.write(to: path) { _ in throw Interrupted() }) { error in
            guard case BERGError.writeFailed? = error as? BERGError else { return XCTFail("expected writeFailed, got \(error)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])

        try AtomicFile.write(to: path) { sink in
            for part in [[UInt8]([1, 2]), [], [3]] { try part.withUnsafeBytes { try sink($0) } }
        }
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.bin"])
    }
}
