import XCTest
import BERGCore
@testable import BERGFormats

/// Arrays read in place from a mapped pickle (`ArrayInFile`, `KeyedArrayFile`) and the
/// chunked x·Mᵀ that multiplies them without copying them whole.
final class ArrayInFileTests: XCTestCase {
    /// Every array of BERG's layout, left in the file, equals what the copying reader gives
    /// (Fortran-ordered float64 PCA components included).
    func testArraysInPlaceEqualTheCopiedOnes() throws {
        let path = PickleFixtures.path("berg_param_weights.npy")
        let copied = try NPYFile.readObject(path)
        let file = try KeyedArrayFile(path: path)
        for keyPath in ["scaler_param/mean_", "scaler_param/scale_", "pca_param/components_", "pca_param/mean_",
                        "lh_reg_param/coef_", "rh_reg_param/intercept_"] {
            let parts = keyPath.split(separator: "/").map(String.init)
            let expected = try XCTUnwrap(copied[parts[0]]?[parts[1]]?.tensor, keyPath)
            let array = try file.array(keyPath)
            XCTAssertNotNil(array.file, "\(keyPath) stays in the mapping")
            assertSameTensor(try array.tensor(), expected, keyPath)
            XCTAssertEqual(try array.floats(), expected.floats, keyPath)
        }
        XCTAssertTrue(try file.array("pca_param/components_").fortranOrder)
    }

    func testMissingKeyPathSaysWhatIsThere() throws {
        let file = try KeyedArrayFile(path: PickleFixtures.path("berg_param_weights.npy"))
        XCTAssertFalse(file.contains("pca_param/rep-1/components_"))
        XCTAssertThrowsError(try file.array("pca_param/rep-1/components_")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("no 'pca_param/rep-1/components_'"), message)
            XCTAssertTrue(message.contains("'pca_param' holds: components_"), message)
        }
        XCTAssertThrowsError(try file.array("scaler_param")) { error in
            XCTAssertTrue("\(error)".contains("is dict, not a numeric array"), "\(error)")
        }
    }

    /// Arrays in a plain pickle stay in place and decode right (a Fortran-ordered one too).
    func testPickleKeepsArraysInTheMapping() throws {
        let mapped = try MappedFile(path: PickleFixtures.path("arrays_in_pickle.pkl"))
        let (value, _) = try PickleMachine.load(keepingArraysIn: mapped)
        guard case .arrayInFile(let big)? = value["big"], case .arrayInFile(let fortran)? = value["fortran"] else {
            return XCTFail("expected arrays left in the file, got \(value["big"]?.kindName ?? "nothing")")
        }
        XCTAssertTrue(fortran.fortranOrder)
        let copied = try PickleMachine.load(try PickleFixtures.data("arrays_in_pickle.pkl"), path: "arrays_in_pickle.pkl")
        assertSameTensor(try big.tensor(), try XCTUnwrap(copied["big"]?.tensor), "float32")
        assertSameTensor(try fortran.tensor(), try XCTUnwrap(copied["fortran"]?.tensor), "Fortran order")
    }

    /// x·M[rows]ᵀ against a plain loop, for C- and Fortran-ordered, float32 and float64
    /// matrices, along rows and along columns, with and without picked rows, in chunks of a
    /// few lines (so that every chunking path runs) and in one chunk.
    func testChunkedProductEqualsThePlainOne() throws {
        var g = Generator(seed: 7)
        let n = 3
        for (r, k) in [(5, 40), (40, 5)] {  // along K (k > r), along rows (r > k)
            let m = (0..<(r * k)).map { _ in g.next() }
            let x = (0..<(n * k)).map { _ in g.next() }
            for fortran in [false, true] {
                for float64 in [false, true] {
                    let array = try matrix(m, rows: r, cols: k, fortran: fortran, float64: float64)
                    for rows in [nil, [3, 1, 4], [0, 1, 2]] as [[Int]?] {
                        let picked = rows ?? Array(0..<r)
                        var expected = [Float](repeating: 0, count: n * picked.count)
                        for i in 0..<n { for (j, row) in picked.enumerated() {
                            var sum: Float = 0
                            for c in 0..<k { sum += x[i * k + c] * m[row * k + c] }
                            expected[i * picked.count + j] = sum
                        } }
                        for chunkBytes in [16, 1 << 20] {
                            var y = [Float](repeating: .nan, count: n * picked.count)
                            x.withUnsafeBufferPointer { xp in
                                y.withUnsafeMutableBufferPointer { yp in
                                    array.multiplyTransposed(xp.baseAddress!, n: n, ldx: k, rows: rows, into: yp.baseAddress!,
                                                             ldy: picked.count, chunkBytes: chunkBytes)
                                }
                            }
                            for (a, b) in zip(y, expected) {
                                XCTAssertEqual(a, b, accuracy: 1e-4, "\(r)×\(k) fortran=\(fortran) f64=\(float64) rows=\(String(describing: rows)) chunk=\(chunkBytes)")
                            }
                        }
                        XCTAssertEqual(array.floats(rows: picked), picked.flatMap { row in (0..<k).map { m[row * k + $0] } }.map { float64 ? Float(Double($0)) : $0 })
                    }
                }
            }
        }
    }

    /// A matrix in a real mapped file, at an odd offset (as a pickle's bytes often are), so
    /// that the pread and page-release paths run.
    func testProductFromAnUnalignedMappedFileAndRelease() throws {
        var g = Generator(seed: 3)
        let (r, k, n) = (7, 300, 2)
        let m = (0..<(r * k)).map { _ in g.next() }
        let x = (0..<(n * k)).map { _ in g.next() }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("array-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        try (Data([1, 2, 3]) + m.withUnsafeBytes { Data($0) }).write(to: url)
        let mapped = try MappedFile(path: url.path)
        let slice = mapped.data[3 ..< 3 + r * k * 4]
        let array = try XCTUnwrap(try ArrayInFile(descr: "<f4", shape: [r, k], fortranOrder: false, bytes: slice, file: mapped, path: url.path))
        var y = [Float](repeating: 0, count: n * r)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            array.multiplyTransposed(xp.baseAddress!, n: n, ldx: k, rows: nil, into: yp.baseAddress!, ldy: r, chunkBytes: 64)
        } }
        for i in 0..<n { for j in 0..<r {
            let expected = (0..<k).reduce(Float(0)) { $0 + x[i * k + $1] * m[j * k + $1] }
            XCTAssertEqual(y[i * r + j], expected, accuracy: 1e-4)
        } }
        // Pages given back are read in again, unchanged.
        mapped.releaseAll()
        XCTAssertEqual(array.floats(rows: [6]), Array(m[6 * k ..< 7 * k]))
        var copy = [Float](repeating: 0, count: k)
        XCTAssertTrue(array.bytes.withUnsafeBytes { raw in copy.withUnsafeMutableBytes { mapped.read(raw.baseAddress! + 4 * k, count: 4 * k, into: $0.baseAddress!) } })
        XCTAssertEqual(copy, Array(m[k ..< 2 * k]))
    }

    func matrix(_ values: [Float], rows: Int, cols: Int, fortran: Bool, float64: Bool) throws -> ArrayInFile {
        var ordered = values
        if fortran { ordered = (0..<cols).flatMap { c in (0..<rows).map { values[$0 * cols + c] } } }
        let bytes = float64 ? ordered.map(Double.init).withUnsafeBytes { Data($0) } : ordered.withUnsafeBytes { Data($0) }
        return try XCTUnwrap(try ArrayInFile(descr: float64 ? "<f8" : "<f4", shape: [rows, cols], fortranOrder: fortran,
                                             bytes: bytes, file: nil, path: "test"))
    }

    struct Generator {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
        mutating func next() -> Float {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Int(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }
}

final class OutputFileTests: XCTestCase {
    func testNPZWriterRoundTripsThroughTheReader() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("out.npz").path
        let lh = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        let rh = try Tensor(shape: [2, 0], floats: [])
        try NPZFile.write([("lh", lh), ("rh", rh)], to: path)
        let read = try NPZFile.read(path)
        XCTAssertEqual(read["lh"], lh)
        XCTAssertEqual(read["rh"], rh)
        let zip = try ZipArchive(path: path)
        XCTAssertEqual(zip.entries.map(\.name), ["lh.npy", "rh.npy"])
        XCTAssertTrue(zip.entries.allSatisfy { $0.method == 0 }, "stored, as np.savez")
        _ = try zip.contents(of: zip.entries[0], verifyChecksum: true)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["out.npz"], "no temporary file left")
    }

    /// One data array per stimulus over all vertices, named after it, values back exactly
    /// (NaN included). nibabel and nilearn read these files (checked with
    /// Tools/reference/make_vit_fixtures.py --check-gifti).
    func testGIfTIHoldsOneArrayPerStimulus() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gii-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("r.lh.func.gii").path
        let arrays: [[Float]] = [[1, .nan, -2.5, 0], [.nan, .nan, 3, 4]]
        try GIfTIFile.writeFunctional(arrays, names: ["a.png", "b]]>.png"], metadata: [("mesh", "fsaverage")], to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains(#"NumberOfDataArrays="2""#))
        XCTAssertEqual(text.components(separatedBy: #"Dim0="4""#).count, 3)
        XCTAssertTrue(text.contains("<![CDATA[a.png]]>"))
        XCTAssertTrue(text.contains("<![CDATA[fsaverage]]>"))
        let data = text.components(separatedBy: "<Data>").dropFirst().map { $0.components(separatedBy: "</Data>")[0] }
        XCTAssertEqual(data.count, 2)
        for (encoded, expected) in zip(data, arrays) {
            let values = try GIfTIFile.decodeData(encoded, count: 4)
            XCTAssertEqual(values.map(\.bitPattern), expected.map(\.bitPattern))
        }
    }
}
