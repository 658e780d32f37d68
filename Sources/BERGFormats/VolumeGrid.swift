import BERGCore
import Foundation

/// The voxel grid of a NIfTI image: its shape, where each voxel centre lies in the world (mm),
/// and FSL's "scaled voxel" coordinates on it.
public struct VolumeGrid: Sendable, Equatable {
    /// (x, y, z) sizes.
    public var shape: [Int]
    /// Voxel index (i, j, k) → world mm: nibabel's `img.affine` (the sform when its code is set,
    /// else the qform when its code is set, else a plain scaling with x mirrored).
    public var voxelToWorld: Affine3D
    /// `pixdim[1...3]`, the voxel sizes FSL's coordinates use.
    public var voxelSize: SIMD3<Double>

    public init(shape: [Int], voxelToWorld: Affine3D, voxelSize: SIMD3<Double>) {
        precondition(shape.count == 3, "a volume grid has three sides")
        self.shape = shape
        self.voxelToWorld = voxelToWorld
        self.voxelSize = voxelSize
    }

    /// The grid of a header (its first three dimensions).
    public init(header: NIfTIHeader, path: String) throws {
        guard header.shape.count >= 3, header.shape.prefix(3).allSatisfy({ $0 > 0 }) else {
            throw BERGError.unexpectedContent(path: path, message: "expected a 3-D (or 4-D) volume, the header says shape \(header.shape)")
        }
        let sizes = header.pixdim[1...3].map { Double(abs($0)) }
        guard sizes.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw BERGError.unexpectedContent(path: path, message: "voxel sizes (pixdim 1–3) must be positive, got \(sizes)")
        }
        self.init(shape: Array(header.shape.prefix(3)),
                  voxelToWorld: try Affine3D(rows: NIfTIFile.affine(header, path: path)),
                  voxelSize: SIMD3(sizes[0], sizes[1], sizes[2]))
    }

    /// The grid of a NIfTI file, from its header alone.
    public static func read(_ path: String) throws -> VolumeGrid {
        try VolumeGrid(header: NIfTIFile.readHeader(path), path: path)
    }

    public var voxelCount: Int { shape[0] * shape[1] * shape[2] }

    /// The flat C-order position of voxel (i, j, k): (i·Y + j)·Z + k, as NumPy indexes
    /// nibabel's array.
    @inline(__always)
    public func flatIndex(_ i: Int, _ j: Int, _ k: Int) -> Int { (i * shape[1] + j) * shape[2] + k }

    /// True when the voxel-to-world matrix keeps handedness: "neurological" storage, in which
    /// FSL mirrors x.
    public var isNeurological: Bool { voxelToWorld.determinant > 0 }

    /// Voxel index → FSL coordinates, in which FLIRT matrices and FNIRT fields are written.
    ///
    /// FACTS (FLIRT's convention; checked against fslpy's `getAffine('voxel', 'fsl')`): FSL
    /// coordinates are voxel indices times `pixdim`, ignoring the origin and any rotation, and
    /// with x mirrored, x = (nx − 1 − i)·dx, when the voxel-to-world matrix has a positive
    /// determinant (sform when sform_code ≠ 0, else qform). Two images whose world matrices
    /// disagree can therefore share FSL coordinates; FLIRT's `.mat` maps the input image's FSL
    /// coordinates to the reference image's.
    public var voxelToFSL: Affine3D {
        if isNeurological {
            return .scaling(SIMD3(-voxelSize.x, voxelSize.y, voxelSize.z),
                            offset: SIMD3(Double(shape[0] - 1) * voxelSize.x, 0, 0))
        }
        return .scaling(voxelSize)
    }
}
