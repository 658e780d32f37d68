import BERGCore
import Foundation

/// A FNIRT non-linear warp stored as cubic B-spline coefficients (`fnirt --cout`), such as
/// img2fmri's `T1_to_MNI_nonlin_coeff.nii.gz`: it maps each voxel of the reference image (MNI)
/// to FSL coordinates of the source image (the subject's T1).
///
/// FACTS (FNIRT's coefficient files, from FSL's `fnirt_file_writer` as fslpy's
/// `fsl.transform.fnirt` reads them; the wheel's three files match):
/// - `intent_code` 2007 (FSL_CUBIC_SPLINE_COEFFICIENTS); 2009 would be quadratic splines and
///   2008 a DCT basis, neither supported here.
/// - The data are [cx, cy, cz, 3] float32: one coefficient grid for each of the x, y and z
///   displacements, in mm. Each side is ceil((n + 1) / k) + 2 for a reference side of n
///   voxels and knot spacing k (MNI 2 mm, k = 5: 21 × 24 × 21).
/// - `pixdim[1...3]` is the knot spacing in reference voxels, `intent_p1...3` the reference's
///   voxel size in mm, the qform's offsets the reference's shape, and the sform the initial
///   affine that FNIRT started from (a FLIRT matrix, source FSL → reference FSL coordinates).
///   The header's orientation fields therefore say nothing about where the file lies.
/// - Evaluation (fslpy's `CoefficientField.displacements`): a reference voxel v sits at
///   field coordinate f = v / k; with i = ⌊f⌋ and u = f − i, the displacement is
///   Σ_{l,m,n ∈ 0...3} c[i+l, j+m, k+n] · b_l(u) b_m(v) b_n(w) with the uniform cubic B-spline
///   pieces b0 = (1−u)³/6, b1 = (3u³ − 6u² + 4)/6, b2 = (−3u³ + 3u² + 3u + 1)/6, b3 = u³/6;
///   coefficients beyond the grid count as 0 (this only touches the last few reference voxels
///   of a side, such as MNI y ≥ 106 of 109, far from any ROI).
/// - With the affine (fnirtfileutils' `--withaff`, which applywarp uses): the source position
///   of v is A⁻¹·p + d(v), p being v's reference FSL coordinates: the displacement is added
///   after the inverse affine, not before it (convertwarp composes the other way).
public struct FNIRTCoefficientField: Sendable {
    /// (cx, cy, cz): the coefficient grid.
    public let coefficientShape: [Int]
    /// [cx, cy, cz, 3] in C order.
    let coefficients: [Float]
    /// Knot spacing, in reference voxels.
    public let knotSpacing: SIMD3<Double>
    /// The voxel size of the reference the field was made on (mm).
    public let referenceVoxelSize: SIMD3<Double>
    /// The reference's shape when the field was made.
    public let referenceShape: [Int]
    /// The initial affine: source FSL coordinates → reference FSL coordinates.
    public let initialAffine: FLIRTMatrix
    let referenceToSource: Affine3D

    public static let cubicSplineIntent = 2007

    public static func read(_ path: String) throws -> FNIRTCoefficientField {
        let image = try NIfTIFile.read(path)
        let header = image.header
        switch header.intentCode {
        case cubicSplineIntent: break
        case 2008, 2009, 2016, 2017:
            throw BERGError.unsupported("\(path) holds FSL coefficients of intent \(header.intentCode) (quadratic splines, DCT or topup); only FNIRT's cubic B-spline coefficients (intent 2007) are supported")
        default:
            throw BERGError.unexpectedContent(path: path, message: "not a FNIRT coefficient field: intent_code is \(header.intentCode), expected 2007 (cubic B-spline coefficients, `fnirt --cout`)")
        }
        guard image.shape.count == 4, image.shape[3] == 3, image.shape.prefix(3).allSatisfy({ $0 >= 4 }) else {
            throw BERGError.unexpectedContent(path: path, message: "a FNIRT coefficient field is [cx, cy, cz, 3] with sides of at least 4, got \(image.shape)")
        }
        func positive(_ values: [Float], _ what: String) throws -> SIMD3<Double> {
            guard values.count == 3, values.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw BERGError.unexpectedContent(path: path, message: "\(what) must be three positive numbers, got \(values)")
            }
            return SIMD3(Double(values[0]), Double(values[1]), Double(values[2]))
        }
        let knots = try positive(Array(header.pixdim[1...3]), "the knot spacing (pixdim 1–3)")
        let referenceSize = try positive(header.intentParameters, "the reference voxel size (intent_p1–3)")
        let affine = try Affine3D(rows: header.srow.map { $0.map(Double.init) })
        let data = try image.data().floats
        return FNIRTCoefficientField(
            coefficientShape: Array(image.shape.prefix(3)), coefficients: data,
            knotSpacing: knots, referenceVoxelSize: referenceSize,
            referenceShape: header.qoffset.map { Int($0.rounded()) },
            initialAffine: FLIRTMatrix(affine), referenceToSource: try affine.inverse())
    }

    /// The displacement (mm) at reference voxel `v` of `reference` (a reference with another
    /// voxel size is assumed aligned in FSL coordinates, as fslpy assumes).
    public func displacement(atReferenceVoxel v: SIMD3<Double>, referenceVoxelSize size: SIMD3<Double>? = nil) -> SIMD3<Double> {
        let scale = (size ?? referenceVoxelSize) / referenceVoxelSize
        let f = v * scale / knotSpacing
        let base = SIMD3<Double>(f.x.rounded(.down), f.y.rounded(.down), f.z.rounded(.down))
        let u = f - base
        let (wx, wy, wz) = (Self.weights(u.x), Self.weights(u.y), Self.weights(u.z))
        let (i0, j0, k0) = (Int(base.x), Int(base.y), Int(base.z))
        let (nx, ny, nz) = (coefficientShape[0], coefficientShape[1], coefficientShape[2])
        var sum = SIMD3<Double>.zero
        coefficients.withUnsafeBufferPointer { c in
            for l in 0..<4 {
                let i = i0 + l
                guard i >= 0, i < nx else { continue }
                for m in 0..<4 {
                    let j = j0 + m
                    guard j >= 0, j < ny else { continue }
                    let wxy = wx[l] * wy[m]
                    for n in 0..<4 {
                        let k = k0 + n
                        guard k >= 0, k < nz else { continue }
                        let w = wxy * wz[n]
                        let at = ((i * ny + j) * nz + k) * 3
                        sum += w * SIMD3(Double(c[at]), Double(c[at + 1]), Double(c[at + 2]))
                    }
                }
            }
        }
        return sum
    }

    /// Where reference voxel `v` lands in the source image's FSL coordinates: A⁻¹·p + d(v).
    public func sourceCoordinates(ofReferenceVoxel v: SIMD3<Double>, reference: VolumeGrid) -> SIMD3<Double> {
        let p = reference.voxelToFSL.apply(v)
        return referenceToSource.apply(p) + displacement(atReferenceVoxel: v, referenceVoxelSize: reference.voxelSize)
    }

    /// The four cubic B-spline pieces at u ∈ [0, 1).
    static func weights(_ u: Double) -> SIMD4<Double> {
        let u2 = u * u, u3 = u2 * u, r = 1 - u
        return SIMD4(r * r * r / 6, (3 * u3 - 6 * u2 + 4) / 6, (-3 * u3 + 3 * u2 + 3 * u + 1) / 6, u3 / 6)
    }
}
