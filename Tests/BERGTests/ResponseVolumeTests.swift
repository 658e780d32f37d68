import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import BERGModels
import Foundation
import XCTest

/// `BERG.writeResponseVolume` streams the volume in file order; what the file holds must equal
/// `BERG.responseVolume`, and the responses must sit at their voxels.
final class ResponseVolumeTests: XCTestCase {
    private func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("berg-volume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private let affine: [Double] = [2, 0, 0, -70, 0, 2, 0, -90, 0, 0, 2, -60, 0, 0, 0, 1]

    /// Output column v at its voxel: the file holds each response there, NaN elsewhere.
    func testVolumeHoldsEachResponseAtItsVoxel() throws {
        let shape = [30, 20, 25]
        let inside = [7, 1234, 1235, 9000, 14_999]  // C-order positions on the grid
        let ijk = inside.flatMap { [$0 / (20 * 25), $0 / 25 % 20, $0 % 25] }
        let images = 40
        let responses = (0..<(images * inside.count)).map { Float($0) * 0.5 - 7 }
        let result = EncodingResult(responses: ["responses": try Tensor(shape: [images, inside.count], floats: responses)],
                                    metadata: Metadata(),
                                    placement: .volume(try VolumePlacement(gridShape: shape, affine: affine, voxels: ["responses": ijk])))
        let path = try scratch().appendingPathComponent("v.nii.gz").path
        try BERG.writeResponseVolume(result, to: path)
        let image = try NIfTIFile.read(path)
        XCTAssertEqual(image.shape, shape + [images])
        XCTAssertEqual(image.affine.flatMap { $0 }, affine)
        let values = image.raw.floats
        XCTAssertEqual(values.map(\.bitPattern), try BERG.responseVolume(result).volume.floats.map(\.bitPattern))
        for (v, flat) in inside.enumerated() {
            for n in 0..<images { XCTAssertEqual(values[flat * images + n], responses[n * inside.count + v]) }
        }
        XCTAssertEqual(values.filter { !$0.isNaN }.count, images * inside.count)

        // Positions for fewer columns than the output has: an error, and no file.
        let mismatched = EncodingResult(responses: result.responses, metadata: Metadata(),
                                        placement: .volume(try VolumePlacement(gridShape: shape, affine: affine,
                                                                               voxels: ["responses": Array(ijk.dropLast(3))])))
        XCTAssertThrowsError(try BERG.writeResponseVolume(mismatched, to: path + "2.nii.gz"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "2.nii.gz"))
        // A result with no volume placement names what it has instead.
        let field = EncodingResult(responses: result.responses, metadata: Metadata(),
                                   placement: .visualField(try VisualFieldPlacement(x: [0], y: [0], sigma: [1], fieldRadius: 1)))
        XCTAssertThrowsError(try BERG.writeResponseVolume(field, to: path + "3.nii")) { error in
            XCTAssertTrue("\(error)".contains("visual field"), "\(error)")
        }
    }

    /// Overlapping voxels (as img2fmri's roi=all has), large enough for several compression
    /// chunks, written as plain `.nii` and as `.nii.gz`.
    func testOverlappingVoxelsVolumeEqualsResponseVolume() throws {
        let ijk: [Int64] = [0, 0, 0, 5, 6, 7, 5, 6, 7, 39, 29, 19, 12, 0, 19]
        let images = 120  // 40·30·20·120 float32: 1.2 MB, two compression chunks
        let responses = (0..<(images * 5)).map { Float(($0 * 37) % 101) - 50 }
        let result = EncodingResult(
            responses: ["responses": try Tensor(shape: [images, 5], floats: responses)], metadata: Metadata(),
            placement: .volume(try VolumePlacement(gridShape: [40, 30, 20], affine: affine, voxels: ["responses": ijk.map(Int.init)])))
        let expected = try BERG.responseVolume(result).volume
        let folder = try scratch()
        for name in ["v.nii", "v.nii.gz"] {
            let path = folder.appendingPathComponent(name).path
            try BERG.writeResponseVolume(result, to: path)
            let image = try NIfTIFile.read(path)
            XCTAssertEqual(image.shape, [40, 30, 20, images])
            XCTAssertEqual(image.raw.floats.map(\.bitPattern), expected.floats.map(\.bitPattern), name)
            // Streamed an image at a time, the file has the bytes of the whole volume written at once.
            let whole = folder.appendingPathComponent("whole-" + name).path
            try NIfTIFile.write(expected, affine: try BERG.responseVolume(result).affine, to: whole)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: whole)), name)
            let values = image.raw.floats
            // (5, 6, 7) holds the mean of outputs 1 and 2; (39, 29, 19) output 3.
            for n in [0, 60, 119] {
                XCTAssertEqual(values[((5 * 30 + 6) * 20 + 7) * images + n], (responses[n * 5 + 1] + responses[n * 5 + 2]) / 2)
                XCTAssertEqual(values[((39 * 30 + 29) * 20 + 19) * images + n], responses[n * 5 + 3])
            }
        }
    }
}
