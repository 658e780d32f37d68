import BERGCore

/// A 3-D affine map, x ↦ A·x + t, in double precision: voxel-to-world matrices, FLIRT
/// matrices, and their compositions. Rows are as a 4×4 matrix prints them.
public struct Affine3D: Sendable, Equatable, CustomStringConvertible {
    /// The 3×3 linear part, row-major.
    public var linear: [Double]
    public var translation: SIMD3<Double>

    public init(linear: [Double], translation: SIMD3<Double>) {
        precondition(linear.count == 9, "an affine's linear part has 9 entries")
        self.linear = linear
        self.translation = translation
    }

    /// From a 4×4 matrix given as rows (the last row is taken to be 0 0 0 1).
    public init(rows: [[Double]]) throws {
        guard rows.count >= 3, rows.prefix(3).allSatisfy({ $0.count == 4 }),
              rows.prefix(3).joined().allSatisfy(\.isFinite) else {
            throw BERGError.invalidInput("an affine matrix needs 3 or 4 rows of 4 finite numbers, got \(rows)")
        }
        linear = (0..<3).flatMap { r in rows[r][0..<3] }
        translation = SIMD3(rows[0][3], rows[1][3], rows[2][3])
    }

    public static let identity = Affine3D(linear: [1, 0, 0, 0, 1, 0, 0, 0, 1], translation: .zero)

    /// x ↦ diag(scale)·x + offset.
    public static func scaling(_ scale: SIMD3<Double>, offset: SIMD3<Double> = .zero) -> Affine3D {
        Affine3D(linear: [scale.x, 0, 0, 0, scale.y, 0, 0, 0, scale.z], translation: offset)
    }

    /// The 4×4 matrix, row by row.
    public var rows: [[Double]] {
        (0..<3).map { r in Array(linear[3 * r ..< 3 * r + 3]) + [translation[r]] } + [[0, 0, 0, 1]]
    }

    public var determinant: Double {
        let m = linear
        return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    }

    public func apply(_ p: SIMD3<Double>) -> SIMD3<Double> {
        let m = linear
        return SIMD3(m[0] * p.x + m[1] * p.y + m[2] * p.z,
                     m[3] * p.x + m[4] * p.y + m[5] * p.z,
                     m[6] * p.x + m[7] * p.y + m[8] * p.z) + translation
    }

    /// `self` after `first`: x ↦ self(first(x)).
    public func after(_ first: Affine3D) -> Affine3D {
        let a = linear, b = first.linear
        var product = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { product[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c] } }
        let t = first.translation
        let moved = SIMD3(a[0] * t.x + a[1] * t.y + a[2] * t.z, a[3] * t.x + a[4] * t.y + a[5] * t.z,
                          a[6] * t.x + a[7] * t.y + a[8] * t.z)
        return Affine3D(linear: product, translation: moved + translation)
    }

    /// The inverse map; an error for a singular matrix.
    public func inverse() throws -> Affine3D {
        let m = linear, det = determinant
        guard det != 0, det.isFinite else {
            throw BERGError.invalidInput("the affine matrix \(rows) is singular and has no inverse")
        }
        let inv = [(m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det, (m[1] * m[5] - m[2] * m[4]) / det,
                   (m[5] * m[6] - m[3] * m[8]) / det, (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
                   (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det, (m[0] * m[4] - m[1] * m[3]) / det]
        let linearOnly = Affine3D(linear: inv, translation: .zero)
        return Affine3D(linear: inv, translation: -linearOnly.apply(translation))
    }

    public var description: String {
        rows.map { $0.map { String($0) }.joined(separator: " ") }.joined(separator: "\n")
    }
}
