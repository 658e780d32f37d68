import BERGCore

/// Responses placed back on a voxel grid, for `--volume OUT.nii.gz`: each output [N, V] names
/// its voxel (i, j, k) on a grid of `shape` [X, Y, Z]. Voxels no output names are NaN. A voxel
/// named by several outputs (overlapping ROIs) gets the mean of their values, which does not
/// depend on the order of the outputs.
///
/// Only the occupied voxels are stored, so that a mostly empty 4-D volume can be streamed to a
/// file (`fill`) without ever existing whole in memory.
public struct VoxelVolume: Sendable {
    /// [X, Y, Z].
    public let shape: [Int]
    public let images: Int
    /// The occupied voxels' positions in NIfTI file order within one image (i + X·(j + Y·k)), ascending.
    let cells: [Int]
    /// `values[n · cells.count + c]`: image n's value at `cells[c]`.
    let values: [Float]

    public init(responses: Tensor, voxelIJK: Tensor, shape: [Int]) throws {
        guard responses.rank == 2 else {
            throw BERGError.shapeMismatch(what: "responses [images, voxels]", expected: [-1, -1], actual: responses.shape)
        }
        let (images, voxels) = (responses.shape[0], responses.shape[1])
        guard voxelIJK.shape == [voxels, 3] else {
            throw BERGError.shapeMismatch(what: "voxel_ijk [voxels, 3]", expected: [voxels, 3], actual: voxelIJK.shape)
        }
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw BERGError.invalidInput("volume_shape must be three positive sizes, got \(shape)")
        }
        let ijk = voxelIJK.int64s
        var placed: [(cell: Int, output: Int)] = []
        placed.reserveCapacity(voxels)
        for v in 0..<voxels {
            let (i, j, k) = (Int(ijk[3 * v]), Int(ijk[3 * v + 1]), Int(ijk[3 * v + 2]))
            guard (0..<shape[0]).contains(i), (0..<shape[1]).contains(j), (0..<shape[2]).contains(k) else {
                throw BERGError.invalidInput("voxel \(v) at (\(i), \(j), \(k)) lies outside the volume \(shape)")
            }
            placed.append((i + shape[0] * (j + shape[1] * k), v))
        }
        // By cell, then output order: the outputs landing in one cell are summed in output order.
        placed.sort { $0.cell != $1.cell ? $0.cell < $1.cell : $0.output < $1.output }
        var cells: [Int] = [], groupStarts: [Int] = []
        for (index, p) in placed.enumerated() where cells.last != p.cell {
            cells.append(p.cell)
            groupStarts.append(index)
        }
        groupStarts.append(placed.count)
        let x = responses.floats
        var values = [Float](repeating: 0, count: images * cells.count)
        for n in 0..<images {
            for c in cells.indices {
                var sum = 0.0
                for p in placed[groupStarts[c] ..< groupStarts[c + 1]] { sum += Double(x[n * voxels + p.output]) }
                values[n * cells.count + c] = Float(sum / Double(groupStarts[c + 1] - groupStarts[c]))
            }
        }
        self.shape = shape
        self.images = images
        self.cells = cells
        self.values = values
    }

    /// [X, Y, Z, N] in NIfTI file order: the file position of image n at (i, j, k) is
    /// i + X·(j + Y·(k + Z·n)).
    public var fileOrderShape: [Int] { shape + [images] }

    /// Writes the values at file positions `range` (see `fileOrderShape`) into `out`.
    public func fill(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count >= range.count)
        _ = out.initialize(from: repeatElement(Float.nan, count: range.count))
        let perImage = shape[0] * shape[1] * shape[2]
        guard !range.isEmpty, !cells.isEmpty else { return }
        for n in (range.lowerBound / perImage)...((range.upperBound - 1) / perImage) {
            let base = n * perImage
            let lo = max(range.lowerBound, base) - base, hi = min(range.upperBound, base + perImage) - base
            // Binary search for the first occupied cell at or after lo.
            var c = 0, end = cells.count
            while c < end {
                let mid = (c + end) / 2
                if cells[mid] < lo { c = mid + 1 } else { end = mid }
            }
            while c < cells.count, cells[c] < hi {
                out[base + cells[c] - range.lowerBound] = values[n * cells.count + c]
                c += 1
            }
        }
    }

    /// The whole volume [X, Y, Z, N] in C order: image n of voxel (i, j, k) is at ((i·Y + j)·Z + k)·N + n.
    public func tensor() throws -> Tensor {
        var out = [Float](repeating: .nan, count: shape[0] * shape[1] * shape[2] * images)
        for (c, cell) in cells.enumerated() {
            let (i, j, k) = (cell % shape[0], cell / shape[0] % shape[1], cell / (shape[0] * shape[1]))
            let flat = ((i * shape[1] + j) * shape[2] + k) * images
            for n in 0..<images { out[flat + n] = values[n * cells.count + c] }
        }
        return try Tensor(shape: shape + [images], floats: out)
    }

    /// The volume a result's placement describes: every output's columns on the grid, in
    /// output-name order, overlapping voxels averaged.
    public init(_ result: EncodingResult) throws {
        guard case .volume(let placement)? = result.placement else {
            throw BERGError.unsupported("\(result.metadata.string("model_id") ?? "this model")'s responses are not placed on a voxel grid\(result.placement.map { " (they lie on a \($0.kindName))" } ?? ""), so they cannot be written as a volume")
        }
        var ijk: [Int64] = []
        var columns: [[Float]] = []
        var images: Int? = nil
        for name in result.outputNames {
            guard let tensor = result.responses[name], tensor.rank == 2, let voxels = placement.voxels[name],
                  voxels.count == 3 * tensor.shape[1] else {
                throw BERGError.shapeMismatch(what: "output '\(name)' against its voxel positions",
                                              expected: [images ?? -1, (placement.voxels[name]?.count ?? 0) / 3],
                                              actual: result.responses[name]?.shape ?? [])
            }
            images = tensor.shape[0]
            ijk += voxels.map(Int64.init)
            let v = tensor.shape[1], values = tensor.floats
            columns.append(contentsOf: (0..<tensor.shape[0]).map { n in Array(values[n * v ..< (n + 1) * v]) })
        }
        let n = images ?? 0
        // Rows of the joined [N, ΣV] matrix, image by image.
        let perOutput = columns.count / max(n, 1)
        var joined: [Float] = []
        for image in 0..<n {
            for output in 0..<perOutput { joined += columns[output * n + image] }
        }
        let total = ijk.count / 3
        try self.init(responses: Tensor(shape: [n, total], floats: joined),
                      voxelIJK: Tensor(shape: [total, 3], int64s: ijk), shape: placement.gridShape)
    }
}
