import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import Foundation

extension BERG {
    /// Puts responses [N, V] back into the subject's volume: a float32 [X, Y, Z, N] array that
    /// holds voxel v of image n at the v-th voxel of `roi_mask_volume == 1` in NumPy's C order
    /// (BERG's voxel order), NaN elsewhere, with the metadata's affine. Needs the metadata
    /// entries `fmri/roi_mask_volume` and `fmri/fmri_affine` (volume-space models such as
    /// fmri-nsd-fwrf).
    /// Models whose metadata lists each output's `voxel_ijk` with a `volume_shape` and
    /// `affine` (such as img2fmri-bold5000) go through `VoxelVolume`, where a voxel named by
    /// several outputs gets their mean.
    public static func responseVolume(_ result: EncodingResult) throws -> (volume: Tensor, affine: [[Double]]) {
        let (volume, affine) = try volumePlacement(result)
        return (try volume.tensor(), affine)
    }

    /// Writes `responseVolume(result)` as a 4-D NIfTI file (`.nii` or `.nii.gz`), streamed from
    /// the occupied voxels: the mostly-NaN volume is never built whole in memory.
    /// A group volume in MNI space (`space: mni` in the metadata) says so in its sform code (4),
    /// and a movie's (`frame_interval`) gives the seconds between volumes.
    public static func writeResponseVolume(_ result: EncodingResult, to path: String) throws {
        let (volume, affine) = try volumePlacement(result)
        let sformCode = result.metadata["space"] == .string("mni") ? 4 : 2
        var timeStep: Double? = nil
        if case .double(let interval)? = result.metadata["frame_interval"] { timeStep = interval }
        try NIfTIFile.write(shape: volume.fileOrderShape, affine: affine, to: path, threads: ComputeThreads.count,
                            sformCode: sformCode, timeStep: timeStep) { range, out in
            volume.fill(range, into: out)
        }
    }

    /// Where a result's outputs lie on its voxel grid, from either kind of metadata.
    static func volumePlacement(_ result: EncodingResult) throws -> (volume: VoxelVolume, affine: [[Double]]) {
        func rows(_ a: [Double]) -> [[Double]] { (0..<4).map { r in (0..<4).map { c in a[r * 4 + c] } } }
        if result.metadata.tensor("voxel_ijk") != nil {
            let (volume, affine) = try VoxelVolume.placement(of: result)
            return (volume, rows(affine))
        }
        guard let mask = result.metadata.tensor("fmri/roi_mask_volume"), mask.rank == 3,
              let affineTensor = result.metadata.tensor("fmri/fmri_affine"), affineTensor.shape == [4, 4] else {
            throw BERGError.invalidInput("This model's metadata has no fmri/roi_mask_volume (3-D) and fmri/fmri_affine (4×4), so its responses cannot be written as a volume; --volume works with volume-space models such as fmri-nsd-fwrf")
        }
        guard result.responses.count == 1, let responses = result.responses.values.first, responses.rank == 2 else {
            throw BERGError.invalidInput("--volume needs a single [images, voxels] response array")
        }
        let maskValues = mask.doubles
        let inside = maskValues.indices.filter { maskValues[$0] == 1 }
        guard inside.count == responses.shape[1] else {
            throw BERGError.shapeMismatch(what: "responses against roi_mask_volume voxels",
                                          expected: [responses.shape[0], inside.count], actual: responses.shape)
        }
        // Each voxel of the mask, in C order, holds one output.
        let (y, z) = (mask.shape[1], mask.shape[2])
        let ijk = inside.flatMap { flat in [flat / (y * z), flat / z % y, flat % z].map(Int64.init) }
        let volume = try VoxelVolume(responses: responses, voxelIJK: try Tensor(shape: [inside.count, 3], int64s: ijk),
                                     shape: mask.shape)
        return (volume, rows(affineTensor.doubles))
    }
}
