import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class NIfTIFileTests: XCTestCase {
    static let fixtures = ["mask_float32.nii.gz", "mask_uint8.nii.gz", "mask_uint8.nii", "qform_int16.nii.gz",
                           "base_int32.nii", "scaled_int16.nii.gz", "volume4d_float64.nii.gz"]

    private func expected(_ name: String, _ what: String) throws -> Tensor {
        try NPYFile.read(IOFixtures.path("nifti/\(name).\(what).npy"))
    }

    /// Affine (sform, qform with qfac = −1, and the pixdim fallback), data and np.argwhere all
    /// equal what nibabel and NumPy give.
    func testReadsLikeNibabel() throws {
        for name in Self.fixtures {
            let image = try NIfTIFile.read(IOFixtures.path("nifti/\(name)"))
            let affine = try expected(name, "affine")
            XCTAssertEqual(affine.shape, [4, 4])
            for (a, b) in zip(image.affine.joined(), affine.doubles) {
                XCTAssertEqual(a, b, accuracy: 1e-12, name)
            }
            let data = try expected(name, "data")
            XCTAssertEqual(try image.data(), data, name)
            XCTAssertEqual(image.shape, data.shape, name)
            let argwhere = try expected(name, "argwhere")
            let indices = NIfTIFile.maskIndices(try image.data(), above: 0)
            XCTAssertEqual(indices.count, argwhere.shape[0], name)
            XCTAssertEqual(indices.flatMap { $0.map(Int64.init) }, argwhere.int64s, name)
        }
    }

    func testHeaderFieldsAndRawValues() throws {
        let scaled = try NIfTIFile.read(IOFixtures.path("nifti/scaled_int16.nii.gz"))
        XCTAssertEqual(scaled.header.sclSlope, 0.5)
        XCTAssertEqual(scaled.header.sclInter, 10)
        XCTAssertEqual(scaled.raw.dtype, .int16)
        let data = try expected("scaled_int16.nii.gz", "data").doubles
        XCTAssertEqual(scaled.raw.doubles.map { $0 * 0.5 + 10 }, data)
        let mask = try NIfTIFile.read(IOFixtures.path("nifti/mask_float32.nii.gz"))
        XCTAssertEqual(mask.header.sformCode, 4)
        XCTAssertEqual(mask.header.qformCode, 1)
        XCTAssertEqual(mask.raw.dtype, .float32)
        XCTAssertTrue(mask.raw.floats.contains(2), "the fixture has a label 2 voxel, which counts as inside")
        let qform = try NIfTIFile.read(IOFixtures.path("nifti/qform_int16.nii.gz"))
        XCTAssertEqual(qform.header.pixdim[0], -1)
        XCTAssertEqual(qform.header.sformCode, 0)
    }

    /// `volume[mask]` on a 4-D volume with a 3-D mask gives NumPy's [count, T] in C order.
    func testMaskSelectionMatchesNumPy() throws {
        let name = "volume4d_float64.nii.gz"
        let volume = try NIfTIFile.read(IOFixtures.path("nifti/\(name)")).data()
        let mask = try expected(name, "mask")
        let selected = try NIfTIFile.select(volume, mask: mask)
        let reference = try expected(name, "masked")
        XCTAssertEqual(selected.shape, reference.shape)
        XCTAssertEqual(selected.floats, reference.floats)
        assertThrowsBERGError(try NIfTIFile.select(volume, mask: try Tensor.zeros([4, 3, 4])))
    }

    func testWriteRoundTripWithNaNAndAffine() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let affine = try expected("mask_float32.nii.gz", "affine")
        let rows = (0..<4).map { r in (0..<4).map { affine.doubles[r * 4 + $0] } }
        for shape in [[3, 4, 5], [2, 3, 4, 3]] {
            let count = Tensor.count(of: shape)
            var values = (0..<count).map { Float($0) * 0.25 - 3 }
            values[5] = .nan
            let volume = try Tensor(shape: shape, floats: values)
            for ext in ["nii", "nii.gz"] {
                let path = "\(dir)/v\(shape.count).\(ext)"
                try NIfTIFile.write(volume, affine: rows, to: path)
                let back = try NIfTIFile.read(path)
                XCTAssertEqual(back.shape, shape)
                XCTAssertEqual(back.raw.dtype, .float32)
                XCTAssertEqual(back.raw.floats.map(\.bitPattern), values.map(\.bitPattern), path)
                XCTAssertEqual(back.header.sformCode, 2)
                for (a, b) in zip(back.affine.joined(), rows.joined()) { XCTAssertEqual(a, Double(Float(b)), path) }
                let sizes = back.header.pixdim[1...3].map { $0 }
                XCTAssertEqual(sizes[0], 2, accuracy: 1e-5)
                XCTAssertEqual(sizes[1], 2.5, accuracy: 1e-5)
                XCTAssertEqual(sizes[2], 3, accuracy: 1e-5)
            }
        }
        let compressed = try Data(contentsOf: URL(fileURLWithPath: dir + "/v3.nii.gz"))
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B])
        assertThrowsBERGError(try NIfTIFile.write(try Tensor.zeros([2, 2]), affine: rows, to: dir + "/flat.nii"))
        assertThrowsBERGError(try NIfTIFile.write(try Tensor.zeros([2, 2, 2]), affine: rows, to: dir + "/missing/x.nii"))
    }

    /// A volume of several compression chunks (1 MiB each), written by several threads, reads
    /// back bit for bit, with special values, and with the header nibabel expects: float32,
    /// vox_offset 352, sform code 2, qform code 0, scl_slope 1, mm and seconds.
    func testMultiChunkVolumeRoundTripsOnSeveralThreads() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let shape = [45, 50, 41, 7]  // 2.6 MB of data
        let count = Tensor.count(of: shape)
        let special: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let values = (0..<count).map { i -> Float in
            if i % 9973 < special.count { return special[i % 9973] }
            return i % 7 == 0 ? .nan : Float(i % 1000) * 0.125 - 40
        }
        let affine: [[Double]] = [[-1.5, 0, 0, 60], [0, 2, 0.5, -80], [0, 0, 2.5, -50], [0, 0, 0, 1]]
        for (ext, threads) in [("nii.gz", 3), ("nii", 2), ("nii.gz", 1)] {
            let path = "\(dir)/multi\(threads).\(ext)"
            try NIfTIFile.write(try Tensor(shape: shape, floats: values), affine: affine, to: path, threads: threads)
            let back = try NIfTIFile.read(path)
            XCTAssertEqual(back.shape, shape, path)
            XCTAssertEqual(back.raw.floats.map(\.bitPattern), values.map(\.bitPattern), path)
            let h = back.header
            XCTAssertEqual([h.datatypeCode, h.voxOffset, h.sformCode, h.qformCode], [16, 352, 2, 0], path)
            XCTAssertEqual(h.sclSlope, 1)
            XCTAssertEqual(Array(h.pixdim[4...7]), [1, 1, 1, 1])
            XCTAssertEqual(h.srow, affine.prefix(3).map { $0.map(Float.init) })
            // pixdim[1...3] are the column norms of the affine's 3×3 part.
            XCTAssertEqual(h.pixdim[3], Float((0.5 * 0.5 + 2.5 * 2.5).squareRoot()), accuracy: 1e-6)
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            let raw = ext == "nii" ? file : try Gzip.inflate(file, limit: 352 + 4 * count + 1, path: path)
            XCTAssertEqual(raw.count, 352 + 4 * count, "header, then exactly the data: \(path)")
            XCTAssertEqual(raw[raw.startIndex + 123], 2 | 8, "xyzt_units: mm and seconds")
        }
        // Thread count changes neither the compressed bytes nor the file.
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/multi3.nii.gz")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/multi1.nii.gz")))
    }

    /// Values handed over in file order (x fastest) land where the reader puts them in C order.
    func testWriteFromFileOrderValues() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let shape = [300, 200, 3, 4]
        let (x, y, z) = (shape[0], shape[1], shape[2])
        try NIfTIFile.write(shape: shape, affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
                            to: dir + "/f.nii.gz", threads: 4) { range, out in
            for f in range { out[f - range.lowerBound] = Float(f) }
        }
        let back = try NIfTIFile.read(dir + "/f.nii.gz").raw.floats
        for (i, j, k, t) in [(0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (299, 199, 2, 3), (17, 150, 1, 2)] {
            let c = ((i * y + j) * z + k) * shape[3] + t
            XCTAssertEqual(back[c], Float(i + x * (j + y * (k + z * t))), "(\(i), \(j), \(k), \(t))")
        }
        assertThrowsBERGError(try NIfTIFile.write(shape: [2, 2, 2, 40000], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
                                                  to: dir + "/big.nii") { _, _ in })
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/big.nii"))
    }

    /// Cut short anywhere, plain and gzipped files fail with a BERGError.
    func testTruncatedFilesThrowAtEveryOffset() throws {
        for name in ["mask_uint8.nii", "mask_uint8.nii.gz", "qform_int16.nii.gz"] {
            let data = try IOFixtures.data("nifti/\(name)")
            let dir = try IOFixtures.scratchFolder(self)
            for length in 0..<data.count {
                let path = "\(dir)/\(name)"
                try data.prefix(length).write(to: URL(fileURLWithPath: path))
                // A gzip stream cut after the last data byte (in the final block's end code or the
                // 8-byte trailer) still holds the whole volume, and reading only what the header
                // declares never reaches the cut.
                if name.hasSuffix(".gz"), let image = try? NIfTIFile.read(path) {
                    XCTAssertEqual(image.raw, try NIfTIFile.read(IOFixtures.path("nifti/\(name)")).raw)
                    XCTAssertGreaterThan(length, data.count - 16, "only the stream's last bytes may be missing")
                    continue
                }
                assertThrowsBERGError(try NIfTIFile.read(path), "\(name) cut at \(length)")
            }
        }
    }

    func testCorruptAndHostileHeaders() throws {
        let dir = try IOFixtures.scratchFolder(self)
        var gz = try IOFixtures.data("nifti/mask_uint8.nii.gz")
        for i in 20..<60 { gz[i] ^= 0xA5 }
        try gz.write(to: URL(fileURLWithPath: dir + "/corrupt.nii.gz"))
        assertThrowsBERGError(try NIfTIFile.read(dir + "/corrupt.nii.gz"))

        // Huge declared dimensions: refused before allocating.
        var plain = try IOFixtures.data("nifti/mask_uint8.nii")
        for d in 0..<3 { plain[42 + 2 * d] = 0xFF; plain[43 + 2 * d] = 0x7F }
        plain[70] = 64; plain[71] = 0 // float64
        try plain.write(to: URL(fileURLWithPath: dir + "/huge.nii"))
        let huge = assertThrowsBERGError(try NIfTIFile.read(dir + "/huge.nii"))
        if case .limitExceeded? = huge {} else { XCTFail("expected limitExceeded, got \(String(describing: huge))") }

        var badType = try IOFixtures.data("nifti/mask_uint8.nii")
        badType[70] = 128 // RGB24
        try badType.write(to: URL(fileURLWithPath: dir + "/rgb.nii"))
        assertThrowsBERGError(try NIfTIFile.read(dir + "/rgb.nii"))

        try "hello".write(toFile: dir + "/text.nii", atomically: true, encoding: .utf8)
        assertThrowsBERGError(try NIfTIFile.read(dir + "/text.nii"))
        assertThrowsBERGError(try NIfTIFile.read(dir + "/absent.nii"))
    }
}
