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
        if result.metadata.tensor("voxel_ijk") != nil {
            let (volume, a) = try VoxelVolume.volume(of: result)
            return (volume, (0..<4).map { r in (0..<4).map { c in a[r * 4 + c] } })
        }
        guard let mask = result.metadata.tensor("fmri/roi_mask_volume"), mask.rank == 3,
              let affineTensor = result.metadata.tensor("fmri/fmri_affine"), affineTensor.shape == [4, 4] else {
            throw BERGError.invalidInput("This model's metadata has no fmri/roi_mask_volume (3-D) and fmri/fmri_affine (4×4), so its responses cannot be written as a volume; --volume works with volume-space models such as fmri-nsd-fwrf")
        }
        guard result.responses.count == 1, let responses = result.responses.values.first, responses.rank == 2 else {
            throw BERGError.invalidInput("--volume needs a single [images, voxels] response array")
        }
        let (images, voxels) = (responses.shape[0], responses.shape[1])
        let maskValues = mask.doubles
        let inside = maskValues.indices.filter { maskValues[$0] == 1 }
        guard inside.count == voxels else {
            throw BERGError.shapeMismatch(what: "responses against roi_mask_volume voxels", expected: [images, inside.count],
                                          actual: responses.shape)
        }
        var volume = [Float](repeating: .nan, count: mask.count * images)
        let values = responses.floats
        for (v, flat) in inside.enumerated() {
            for n in 0..<images { volume[flat * images + n] = values[n * voxels + v] }
        }
        let a = affineTensor.doubles
        let affine = (0..<4).map { r in (0..<4).map { c in a[r * 4 + c] } }
        return (Tensor(shape: mask.shape + [images], floats: volume), affine)
    }

    /// Writes `responseVolume(result)` as a 4-D NIfTI file (`.nii` or `.nii.gz`).
    public static func writeResponseVolume(_ result: EncodingResult, to path: String) throws {
        let (volume, affine) = try responseVolume(result)
        try NIfTIFile.write(volume, affine: affine, to: path)
    }
}
