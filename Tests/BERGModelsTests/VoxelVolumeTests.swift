import BERGCore
@testable import BERGModels
import XCTest

/// Responses placed on a voxel grid: the C-order tensor and the file-order chunks that
/// `--volume` streams must describe the same volume.
final class VoxelVolumeTests: XCTestCase {
    let shape = [4, 3, 5]
    // Voxels 1 and 3 share (2, 1, 4); voxel 4 is alone at the grid's last cell.
    let ijk: [Int64] = [0, 0, 0, 2, 1, 4, 1, 2, 3, 2, 1, 4, 3, 2, 4]
    var responses: Tensor {
        get throws {
            try Tensor(shape: [3, 5], floats: [1, 2, 3, 10, 5,
                                               -1, 0.5, 7, 0.25, 9,
                                               4, 8, -2, 6, .nan])
        }
    }

    private func placement(order: [Int]) throws -> VoxelVolume {
        let r = try responses.floats
        let permuted = (0..<3).flatMap { n in order.map { r[n * 5 + $0] } }
        let positions = order.flatMap { ijk[3 * $0 ..< 3 * $0 + 3] }
        return try VoxelVolume(responses: try Tensor(shape: [3, 5], floats: permuted),
                               voxelIJK: try Tensor(shape: [5, 3], int64s: positions), shape: shape)
    }

    func testTensorHoldsEachOutputAndTheMeanOfOverlaps() throws {
        let volume = try placement(order: [0, 1, 2, 3, 4]).tensor()
        XCTAssertEqual(volume.shape, [4, 3, 5, 3])
        let v = volume.floats
        func at(_ i: Int, _ j: Int, _ k: Int, _ n: Int) -> Float { v[((i * 3 + j) * 5 + k) * 3 + n] }
        XCTAssertEqual([at(0, 0, 0, 0), at(0, 0, 0, 1), at(0, 0, 0, 2)], [1, -1, 4])
        XCTAssertEqual([at(2, 1, 4, 0), at(2, 1, 4, 1), at(2, 1, 4, 2)], [6, 0.375, 7])
        XCTAssertEqual([at(1, 2, 3, 0), at(1, 2, 3, 1)], [3, 7])
        XCTAssertEqual(at(3, 2, 4, 1), 9)
        XCTAssertTrue(at(3, 2, 4, 2).isNaN, "a NaN response stays NaN")
        XCTAssertEqual(v.filter { !$0.isNaN }.count, 4 * 3 - 1, "four occupied voxels, one NaN response")
        // The outputs' order changes nothing.
        XCTAssertEqual(try placement(order: [4, 3, 2, 1, 0]).tensor().floats.map(\.bitPattern), v.map(\.bitPattern))
    }

    /// An image's file-order volume (what `--volume` streams) holds the C-order tensor's values.
    func testFileOrderVolumeMatchesTheTensor() throws {
        let placed = try placement(order: [2, 0, 4, 1, 3])
        let c = try placed.tensor().floats
        let (x, y, z, images) = (4, 3, 5, 3)
        let order = [2, 0, 4, 1, 3], r = try responses.floats
        let grid = try VoxelGrid(shape: shape, voxelIJK: order.flatMap { ijk[3 * $0 ..< 3 * $0 + 3].map(Int.init) })
        for n in 0..<images {
            let row = order.map { r[n * 5 + $0] }
            var out = [Float](repeating: 42, count: x * y * z)
            row.withUnsafeBufferPointer { row in out.withUnsafeMutableBufferPointer { grid.volume(row: row, into: $0) } }
            var expected = [Float](repeating: 0, count: x * y * z)
            for k in 0..<z { for j in 0..<y { for i in 0..<x { expected[i + x * (j + y * k)] = c[((i * y + j) * z + k) * images + n] } } }
            XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern), "image \(n)")
        }
    }

    func testBadPlacementsThrow() {
        assertThrows(try VoxelVolume(responses: responses, voxelIJK: try Tensor(shape: [5, 3], int64s: ijk), shape: [4, 3, 4]))
        assertThrows(try VoxelVolume(responses: responses, voxelIJK: try Tensor(shape: [4, 3], int64s: Array(ijk[0..<12])), shape: shape))
        assertThrows(try VoxelVolume(responses: responses, voxelIJK: try Tensor(shape: [5, 3], int64s: ijk), shape: [4, 3]))
        let negative = [Int64(-1)] + ijk.dropFirst()
        assertThrows(try VoxelVolume(responses: responses, voxelIJK: try Tensor(shape: [5, 3], int64s: negative), shape: shape))
    }

    private func assertThrows<T>(_ body: @autoclosure () throws -> T, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { XCTAssertTrue($0 is BERGError, "\($0)", line: line) }
    }
}
