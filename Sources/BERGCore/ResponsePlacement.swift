/// Where a model's outputs lie in space, so that results can be written as volumes or surface
/// files and drawn without knowing the model's kind or its metadata's key names.
public enum ResponsePlacement: Sendable, Equatable {
    /// Each output's columns are voxels of a 3-D grid.
    case volume(VolumePlacement)
    /// Each output's columns are vertices of a surface mesh (one output per hemisphere).
    case surface(SurfacePlacement)
    /// Each output column is a population receptive field in the visual field.
    case visualField(VisualFieldPlacement)

    public var kindName: String {
        switch self {
        case .volume: return "volume"
        case .surface: return "surface"
        case .visualField: return "visual field"
        }
    }
}

/// Voxels on a grid: output column v of an output lies at `voxels[output][v]` = (i, j, k).
public struct VolumePlacement: Sendable, Equatable {
    /// The grid's size (X, Y, Z).
    public var gridShape: [Int]
    /// Voxel index → world (mm), 4×4 row-major.
    public var affine: [Double]
    /// Per output name, its columns' (i, j, k), flattened [V * 3].
    public var voxels: [String: [Int]]
    /// The value of the grid's other voxels in a volume; nil: NaN.
    public var background: Float?

    public init(gridShape: [Int], affine: [Double], voxels: [String: [Int]], background: Float? = nil) throws {
        guard gridShape.count == 3, gridShape.allSatisfy({ $0 > 0 }) else {
            throw BERGError.shapeMismatch(what: "volume grid", expected: [1, 1, 1], actual: gridShape)
        }
        guard affine.count == 16 else { throw BERGError.shapeMismatch(what: "volume affine", expected: [4, 4], actual: [affine.count]) }
        for (name, ijk) in voxels {
            guard ijk.count % 3 == 0 else {
                throw BERGError.shapeMismatch(what: "voxel positions of output '\(name)'", expected: [ijk.count / 3, 3], actual: [ijk.count])
            }
            for v in stride(from: 0, to: ijk.count, by: 3) where !(0..<3).allSatisfy({ (0..<gridShape[$0]).contains(ijk[v + $0]) }) {
                throw BERGError.invalidInput("voxel (\(ijk[v]), \(ijk[v + 1]), \(ijk[v + 2])) of output '\(name)' lies outside the \(gridShape) grid")
            }
        }
        self.gridShape = gridShape
        self.affine = affine
        self.voxels = voxels
        self.background = background
    }

    /// The affine as 4 rows of 4.
    public var affineRows: [[Double]] { (0..<4).map { r in Array(affine[r * 4 ..< r * 4 + 4]) } }

    /// Output column v of `output` lies at `cells[v]`, a Fortran-order cell index (i fastest).
    public func cells(of output: String) -> [Int] {
        let ijk = voxels[output] ?? []
        return stride(from: 0, to: ijk.count, by: 3).map { ijk[$0] + gridShape[0] * (ijk[$0 + 1] + gridShape[1] * ijk[$0 + 2]) }
    }
}

/// Vertices of a surface: output `name`'s column v is vertex `vertices[name][v]` of a mesh with
/// `vertexCount[name]` vertices (fsaverage: 163,842 per hemisphere).
public struct SurfacePlacement: Sendable, Equatable {
    public var vertexCount: [String: Int]
    public var vertices: [String: [Int]]
    /// The mesh, such as `fsaverage`.
    public var mesh: String

    public init(mesh: String, vertexCount: [String: Int], vertices: [String: [Int]]) throws {
        for (name, indices) in vertices {
            guard let count = vertexCount[name] else {
                throw BERGError.invalidInput("surface output '\(name)' has no vertex count")
            }
            if let bad = indices.first(where: { !(0..<count).contains($0) }) {
                throw BERGError.invalidInput("vertex \(bad) of output '\(name)' is outside the mesh's \(count) vertices")
            }
        }
        self.mesh = mesh
        self.vertexCount = vertexCount
        self.vertices = vertices
    }
}

/// Population receptive fields in degrees of visual angle (x right, y up), one per output column.
public struct VisualFieldPlacement: Sendable, Equatable {
    public var x: [Float]
    public var y: [Float]
    public var sigma: [Float]
    /// Half the width of the (square) stimulus in degrees.
    public var fieldRadius: Double

    public init(x: [Float], y: [Float], sigma: [Float], fieldRadius: Double) throws {
        guard x.count == y.count, y.count == sigma.count else {
            throw BERGError.shapeMismatch(what: "pRF positions (x, y, σ)", expected: [x.count, x.count, x.count], actual: [x.count, y.count, sigma.count])
        }
        guard fieldRadius > 0 else { throw BERGError.invalidInput("the visual field radius must be positive, got \(fieldRadius)") }
        self.x = x
        self.y = y
        self.sigma = sigma
        self.fieldRadius = fieldRadius
    }
}
