import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import Foundation

extension BERG {
    /// Puts a volume-placed result back on its grid: a float32 [X, Y, Z, N] array that holds
    /// output column v of image n at that column's voxel (i, j, k), NaN elsewhere; a voxel named
    /// by several outputs gets their mean. With the grid's affine (4×4, row by row).
    public static func responseVolume(_ result: EncodingResult) throws -> (volume: Tensor, affine: [[Double]]) {
        let (volume, affine) = try volumePlacement(result)
        return (try volume.tensor(), affine)
    }

    /// Writes `responseVolume(result)` as a 4-D NIfTI file (`.nii` or `.nii.gz`), streamed from
    /// the occupied voxels: the mostly-NaN volume is never built whole in memory.
    public static func writeResponseVolume(_ result: EncodingResult, to path: String) throws {
        let (volume, affine) = try volumePlacement(result)
        try NIfTIFile.write(shape: volume.fileOrderShape, affine: affine, to: path, threads: ComputeThreads.count) { range, out in
            volume.fill(range, into: out)
        }
    }

    static func volumePlacement(_ result: EncodingResult) throws -> (volume: VoxelVolume, affine: [[Double]]) {
        let volume = try VoxelVolume(result)
        guard case .volume(let placement)? = result.placement else { throw BERGError.unsupported("no volume placement") }
        let a = placement.affine
        return (volume, (0..<4).map { r in (0..<4).map { c in a[r * 4 + c] } })
    }
}
