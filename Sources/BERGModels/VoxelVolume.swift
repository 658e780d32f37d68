import BERGCore

/// Where a volume placement puts each output column on its grid [X, Y, Z]: the occupied cells,
/// and for each the columns of an image's row that land in it. A cell named by several columns
/// (overlapping ROIs) gets the mean of their values, which does not depend on the columns' order.
public struct VoxelGrid: Sendable {
    /// [X, Y, Z].
    public let shape: [Int]
    /// The outputs whose columns, joined in this order, make an image's row.
    public let outputs: [String]
    /// Columns in a row.
    public let columnCount: Int
    /// The occupied cells' positions in NIfTI file order within one image (i + X·(j + Y·k)), ascending.
    let cells: [Int]
    /// `members[groupStarts[c] ..< groupStarts[c + 1]]`: the columns of cell c, in column order.
    let groupStarts: [Int]
    let members: [Int]
    /// The value of cells no column names: NaN, or the placement's `background` (0 for
    /// img2fmri's group volumes, as img2fmri writes them).
    public var background: Float = .nan

    /// A grid from each column's (i, j, k), flattened [columns · 3].
    public init(shape: [Int], voxelIJK ijk: [Int], outputs: [String] = ["responses"]) throws {
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw BERGError.invalidInput("a volume grid must be three positive sizes, got \(shape)")
        }
        guard ijk.count % 3 == 0 else { throw BERGError.shapeMismatch(what: "voxel positions [voxels, 3]", expected: [ijk.count / 3, 3], actual: [ijk.count]) }
        var placed: [(cell: Int, column: Int)] = []
        placed.reserveCapacity(ijk.count / 3)
        for v in 0..<(ijk.count / 3) {
            let (i, j, k) = (ijk[3 * v], ijk[3 * v + 1], ijk[3 * v + 2])
            guard (0..<shape[0]).contains(i), (0..<shape[1]).contains(j), (0..<shape[2]).contains(k) else {
                throw BERGError.invalidInput("voxel \(v) at (\(i), \(j), \(k)) lies outside the volume \(shape)")
            }
            placed.append((i + shape[0] * (j + shape[1] * k), v))
        }
        // By cell, then column order: the columns landing in one cell are summed in column order.
        placed.sort { $0.cell != $1.cell ? $0.cell < $1.cell : $0.column < $1.column }
        var cells: [Int] = [], groupStarts: [Int] = []
        for (index, p) in placed.enumerated() where cells.last != p.cell {
            cells.append(p.cell)
            groupStarts.append(index)
        }
        groupStarts.append(placed.count)
        self.shape = shape
        self.outputs = outputs
        self.columnCount = placed.count
        self.cells = cells
        self.groupStarts = groupStarts
        self.members = placed.map(\.column)
    }

    /// The grid of a volume placement, for outputs of these widths (joined in name order).
    public init(_ placement: VolumePlacement, widths: [String: Int]) throws {
        let outputs = widths.keys.sorted()
        var ijk: [Int] = []
        for name in outputs {
            guard let voxels = placement.voxels[name], voxels.count == 3 * widths[name]! else {
                throw BERGError.shapeMismatch(what: "output '\(name)' against its voxel positions",
                                              expected: [(placement.voxels[name]?.count ?? 0) / 3], actual: [widths[name]!])
            }
            ijk += voxels
        }
        try self.init(shape: placement.gridShape, voxelIJK: ijk, outputs: outputs)
        background = placement.background ?? .nan
    }

    public var cellsPerImage: Int { shape.reduce(1, *) }

    /// An image's value at each occupied cell, from its row of `columnCount` values.
    func cellValues(_ row: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        for c in cells.indices {
            var sum = 0.0
            for m in groupStarts[c] ..< groupStarts[c + 1] { sum += Double(row[members[m]]) }
            out[c] = Float(sum / Double(groupStarts[c + 1] - groupStarts[c]))
        }
    }

    /// An image's whole volume in file order (x fastest): NaN except the occupied cells.
    public func volume(row: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        _ = out.initialize(from: repeatElement(background, count: cellsPerImage))
        var values = [Float](repeating: 0, count: cells.count)
        values.withUnsafeMutableBufferPointer { cellValues(row, into: $0) }
        for (c, cell) in cells.enumerated() { out[cell] = values[c] }
    }
}

/// Responses placed back on a voxel grid, in memory: only the occupied voxels of each image are
/// stored.
public struct VoxelVolume: Sendable {
    public let grid: VoxelGrid
    public let images: Int
    /// `values[n · cells.count + c]`: image n's value at `grid.cells[c]`.
    let values: [Float]

    /// [X, Y, Z].
    public var shape: [Int] { grid.shape }

    public init(responses: Tensor, voxelIJK: Tensor, shape: [Int]) throws {
        guard responses.rank == 2 else {
            throw BERGError.shapeMismatch(what: "responses [images, voxels]", expected: [-1, -1], actual: responses.shape)
        }
        guard voxelIJK.shape == [responses.shape[1], 3] else {
            throw BERGError.shapeMismatch(what: "voxel_ijk [voxels, 3]", expected: [responses.shape[1], 3], actual: voxelIJK.shape)
        }
        try self.init(rows: responses.floats, images: responses.shape[0],
                      grid: VoxelGrid(shape: shape, voxelIJK: voxelIJK.int64s.map { Int($0) }))
    }

    /// The volume a result's placement describes: every output's columns on the grid, joined
    /// in output-name order.
    public init(_ result: EncodingResult) throws {
        guard case .volume(let placement)? = result.placement else {
            throw BERGError.unsupported("\(result.metadata.string("model_id") ?? "this model")'s responses are not placed on a voxel grid\(result.placement.map { " (they lie on a \($0.kindName))" } ?? ""), so they cannot be written as a volume")
        }
        let widths = try result.responses.mapValues { tensor -> Int in
            guard tensor.rank == 2 else { throw BERGError.shapeMismatch(what: "responses [images, voxels]", expected: [-1, -1], actual: tensor.shape) }
            return tensor.shape[1]
        }
        let grid = try VoxelGrid(placement, widths: widths)
        let images = result.responses.values.first?.shape[0] ?? 0
        try self.init(rows: VoxelVolume.joinedRows(result.responses, outputs: grid.outputs, images: images), images: images, grid: grid)
    }

    init(rows: [Float], images: Int, grid: VoxelGrid) throws {
        guard rows.count == images * grid.columnCount else {
            throw BERGError.shapeMismatch(what: "responses against their voxel positions", expected: [images, grid.columnCount], actual: [rows.count])
        }
        var values = [Float](repeating: 0, count: images * grid.cells.count)
        rows.withUnsafeBufferPointer { r in
            values.withUnsafeMutableBufferPointer { v in
                for n in 0..<images {
                    grid.cellValues(UnsafeBufferPointer(rebasing: r[n * grid.columnCount ..< (n + 1) * grid.columnCount]),
                                    into: UnsafeMutableBufferPointer(rebasing: v[n * grid.cells.count ..< (n + 1) * grid.cells.count]))
                }
            }
        }
        self.grid = grid
        self.images = images
        self.values = values
    }

    /// Each image's row: the outputs' columns joined in `outputs` order.
    public static func joinedRows(_ responses: [String: Tensor], outputs: [String], images: Int) -> [Float] {
        let parts = outputs.map { (values: responses[$0]!.floats, width: responses[$0]!.shape[1]) }
        var rows: [Float] = []
        rows.reserveCapacity(images * parts.reduce(0) { $0 + $1.width })
        for n in 0..<images {
            for part in parts { rows += part.values[n * part.width ..< (n + 1) * part.width] }
        }
        return rows
    }

    /// The whole volume [X, Y, Z, N] in C order: image n of voxel (i, j, k) is at ((i·Y + j)·Z + k)·N + n.
    public func tensor() throws -> Tensor {
        let cells = grid.cells
        var out = [Float](repeating: grid.background, count: grid.cellsPerImage * images)
        for (c, cell) in cells.enumerated() {
            let (i, j, k) = (cell % shape[0], cell / shape[0] % shape[1], cell / (shape[0] * shape[1]))
            let flat = ((i * shape[1] + j) * shape[2] + k) * images
            for n in 0..<images { out[flat + n] = values[n * cells.count + c] }
        }
        return try Tensor(shape: shape + [images], floats: out)
    }
}
