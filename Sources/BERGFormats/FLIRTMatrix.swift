import BERGCore
import Foundation

/// A FLIRT transformation matrix (`.mat`): a 4×4 matrix as text, 16 numbers separated by white
/// space, that maps the input image's FSL coordinates (`VolumeGrid.voxelToFSL`) to the
/// reference image's. img2fmri's `T1_nonroi2roi.mat` is one (the full T1 to the T1 that
/// `robustfov` cropped for FNIRT: a shift along z).
public struct FLIRTMatrix: Sendable, Equatable {
    /// Input FSL coordinates → reference FSL coordinates.
    public var transform: Affine3D

    public init(_ transform: Affine3D) { self.transform = transform }

    public static func read(_ path: String) throws -> FLIRTMatrix {
        let data = try NPYFile.readFile(path)
        guard data.count <= 4096 else {
            throw BERGError.unexpectedContent(path: path, message: "a FLIRT matrix is 16 numbers of text, this file has \(data.count) bytes")
        }
        let words = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        let numbers = words.compactMap { Double($0) }
        guard words.count == 16, numbers.count == 16 else {
            throw BERGError.unexpectedContent(path: path, message: "a FLIRT matrix is 4 rows of 4 numbers, found \(words.count) words of which \(numbers.count) are numbers")
        }
        let rows = (0..<4).map { Array(numbers[4 * $0 ..< 4 * $0 + 4]) }
        guard rows[3] == [0, 0, 0, 1] else {
            throw BERGError.unexpectedContent(path: path, message: "the last row of a FLIRT matrix is 0 0 0 1, got \(rows[3])")
        }
        return FLIRTMatrix(try Affine3D(rows: rows))
    }

    /// The same map between voxel indices: input voxel → reference voxel.
    public func voxelTransform(input: VolumeGrid, reference: VolumeGrid) throws -> Affine3D {
        try reference.voxelToFSL.inverse().after(transform).after(input.voxelToFSL)
    }
}
