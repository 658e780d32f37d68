import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

/// Hostile files cost no more than their headers justify: the memory limit follows the
/// machine, compressed data is refused past deflate's ratio before inflating, and headers are
/// read without the data behind them (issue #12).
final class ReadLimitsTests: XCTestCase {
    func testTheLimitIsAQuarterOfMemoryAndAtLeastOneGiB() {
        XCTAssertLessThanOrEqual(ReadLimits.availableMemory, ProcessInfo.processInfo.physicalMemory)
        XCTAssertEqual(ReadLimits.maxBytes, max(1 << 30, Int(ReadLimits.availableMemory / 4)))
        XCTAssertLessThan(ReadLimits.maxBytes, 8 << 30, "a quarter of this 24 GB machine, not the old fixed 8 GiB")
        XCTAssertEqual(NIfTIFile.maxDataBytes, ReadLimits.maxBytes)
        XCTAssertEqual(HDF5File.maxReadBytes, ReadLimits.maxBytes)
    }

    /// A zip member whose directory declares more than 1,032 bytes per compressed byte is
    /// refused before anything is inflated; its honest twin reads.
    func testZipMemberPastDeflatesRatioIsRefused() throws {
        let original = try PickleFixtures.data("arrays_compressed.npz")
        let zip = try ZipArchive(data: original, path: "a.npz")
        let first = try XCTUnwrap(zip.entries.first)
        XCTAssertNoThrow(try zip.allContents())
        // The central directory entry of the first member: its uncompressed size is at +24.
        let central = try XCTUnwrap(original.range(of: Data([0x50, 0x4B, 0x01, 0x02]))).lowerBound
        var bomb = original
        let declared = UInt32(first.compressedSize * (ReadLimits.maxCompressionRatio + 1))
        withUnsafeBytes(of: declared.littleEndian) { bomb.replaceSubrange((central + 24)..<(central + 28), with: $0) }
        let hostile = try ZipArchive(data: bomb, path: "bomb.npz")
        for read in [{ _ = try hostile.allContents() }, { _ = try hostile.contents(of: hostile.entries[0]) }] {
            let error = assertThrowsBERGError(try read())
            XCTAssertTrue(error?.message.contains("more than deflate can produce (1032:1)") ?? false, "\(String(describing: error))")
        }
    }

    /// A gzipped NIfTI whose header declares more data than its compressed bytes could hold is
    /// refused before inflating; one that declares more than the memory limit is refused too.
    func testGzipNIfTIPastTheRatioOrTheLimitIsRefused() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let plain = try IOFixtures.data("nifti/mask_uint8.nii")
        func gzipped(_ shape: [Int], _ name: String) throws -> String {
            var bytes = [UInt8](plain.prefix(352))
            for (d, n) in shape.enumerated() { bytes[42 + 2 * d] = UInt8(n & 0xFF); bytes[43 + 2 * d] = UInt8(n >> 8) }
            let header = bytes
            var file = Data()
            try Gzip.stream(count: header.count + 64, threads: 1, fill: { range, out in
                for i in range { out[i - range.lowerBound] = i < header.count ? header[i] : 0 }
            }, sink: { file.append(contentsOf: $0) })
            let path = dir + "/" + name
            try file.write(to: URL(fileURLWithPath: path))
            return path
        }
        let ratio = assertThrowsBERGError(try NIfTIFile.read(gzipped([1024, 1024, 64], "ratio.nii.gz")))
        XCTAssertTrue(ratio?.message.contains("more than deflate can produce") ?? false, "\(String(describing: ratio))")
        let huge = assertThrowsBERGError(try NIfTIFile.read(gzipped([32767, 32767, 32767], "huge.nii.gz")))
        if case .limitExceeded? = huge {} else { XCTFail("expected limitExceeded, got \(String(describing: huge))") }
        // Its header alone reads, inflating 348 bytes.
        XCTAssertEqual(try NIfTIFile.readHeader(dir + "/huge.nii.gz").shape, [32767, 32767, 32767])
    }

    /// A PNG whose header declares far more pixels than its compressed data could hold is
    /// refused before its buffers are allocated.
    func testPNGPastDeflatesRatioIsRefused() throws {
        var png = try IOFixtures.data("images/rgb.png")
        // IHDR's width and height (offsets 16 and 20) become 10000 × 10000; the CRC is not
        // checked before the ratio is.
        for offset in [16, 20] { png.replaceSubrange(offset..<(offset + 4), with: [0, 0, 0x27, 0x10]) }
        let error = assertThrowsBERGError(try ImageCodec.decode(png, path: "bomb.png"))
        XCTAssertTrue(error?.message.contains("more than deflate can produce") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try ImageCodec.header(of: png, path: "bomb.png").width, 10000)
    }

    /// `.npz` members are described from their headers: a member whose data is damaged (so
    /// that reading it fails) still shows its dtype and shape.
    func testNPZStructureComesFromMemberHeaders() throws {
        let path = PickleFixtures.path("arrays_compressed.npz")
        let structure = try FileStructure.npz(path)
        XCTAssertEqual(structure.children.map(\.name), ["weights", "bias", "labels"])
        XCTAssertEqual(structure.children.map(\.shape), [[3, 4], [4], [3]])
        XCTAssertEqual(structure.children.map(\.dtype), ["float32", "float64", "int32"])
        let arrays = try NPZFile.read(path)
        XCTAssertEqual(structure.children.map { arrays[$0.name]?.shape }, [[3, 4], [4], [3]], "numpy's shapes, read in full")

        // Damage the last bytes of the first member's deflate stream: its header is still read.
        let original = try PickleFixtures.data("arrays_compressed.npz")
        let zip = try ZipArchive(data: original, path: path)
        let first = try XCTUnwrap(zip.entries.first)
        let nameLength = Int(original[first.localHeaderOffset + 26]) | Int(original[first.localHeaderOffset + 27]) << 8
        let extraLength = Int(original[first.localHeaderOffset + 28]) | Int(original[first.localHeaderOffset + 29]) << 8
        var bad = original
        bad[first.localHeaderOffset + 30 + nameLength + extraLength + first.compressedSize - 2] ^= 0x5A
        let badPath = try IOFixtures.scratchFolder(self) + "/bad.npz"
        try bad.write(to: URL(fileURLWithPath: badPath))
        assertThrowsBERGError(try NPZFile.read(badPath))
        XCTAssertEqual(try FileStructure.npz(badPath).children.first?.shape, [3, 4])
    }

    /// `.npy` numeric arrays are described by their header; object arrays by their pickle.
    func testNPYStructure() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let tensor = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        var data = NPYFile.encode(tensor)
        data.removeLast(8)  // truncated data: reading it fails, its header does not
        try data.write(to: URL(fileURLWithPath: dir + "/cut.npy"))
        assertThrowsBERGError(try NPYFile.read(dir + "/cut.npy"))
        let structure = try FileStructure.npy(dir + "/cut.npy")
        XCTAssertEqual([structure.kind, structure.dtype], ["tensor", "float32"])
        XCTAssertEqual(structure.shape, [2, 3])
        let dict = try FileStructure.npy(PickleFixtures.path("metadata_nested_dict.npy"))
        XCTAssertTrue(dict.kind.hasPrefix("dict"), dict.kind)
    }
}
