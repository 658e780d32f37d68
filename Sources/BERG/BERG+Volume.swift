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
        let volume = try VoxelVolume(result)
        guard case .volume(let placement)? = result.placement else { throw BERGError.unsupported("no volume placement") }
        return (try volume.tensor(), placement.affineRows)
    }

    /// Writes `responseVolume(result)` as a 4-D NIfTI file (`.nii` or `.nii.gz`), an image at a
    /// time: the mostly-NaN volume is never built whole in memory.
    /// A movie's result (`frame_interval` in its metadata) gives the seconds between volumes.
    public static func writeResponseVolume(_ result: EncodingResult, to path: String) throws {
        var timeStep: Double? = nil
        if case .double(let interval)? = result.metadata["frame_interval"] { timeStep = interval }
        let writer = try VolumeWriter(path: path, count: result.responses.values.first?.shape.first ?? 0,
                                      placement: result.placement, timeStep: timeStep)
        do {
            try writer.append(result)
            try writer.finish(EncodingSummary(metadata: result.metadata, stimulusNames: result.stimulusNames, placement: result.placement))
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }
}
