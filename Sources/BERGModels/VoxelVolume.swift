import BERGCore

/// Responses placed back on a voxel grid, for `--volume OUT.nii.gz`: a model's metadata names
/// each output's `voxel_ijk` [V, 3], the grid's `volume_shape` [3] and its `affine` [4, 4].
public enum VoxelVolume {
    /// Scatters responses [N, V] into a volume [X, Y, Z, N] (C order, so image n of voxel
    /// (i, j, k) is at ((i·Y + j)·Z + k)·N + n). Voxels no output names are NaN. A voxel named by
    /// several outputs (overlapping ROIs) gets the mean of their values, which does not depend
    /// on the order of the outputs.
    public static func scatter(_ responses: Tensor, voxelIJK: Tensor, shape: [Int]) throws -> Tensor {
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
        // Which outputs land in each occupied cell, in output order.
        var outputsByCell: [Int: [Int]] = [:]
        for v in 0..<voxels {
            let (i, j, k) = (Int(ijk[3 * v]), Int(ijk[3 * v + 1]), Int(ijk[3 * v + 2]))
            guard (0..<shape[0]).contains(i), (0..<shape[1]).contains(j), (0..<shape[2]).contains(k) else {
                throw BERGError.invalidInput("voxel \(v) at (\(i), \(j), \(k)) lies outside the volume \(shape)")
            }
            outputsByCell[(i * shape[1] + j) * shape[2] + k, default: []].append(v)
        }
        let values = responses.floats
        var out = [Float](repeating: .nan, count: shape[0] * shape[1] * shape[2] * images)
        out.withUnsafeMutableBufferPointer { o in
            values.withUnsafeBufferPointer { x in
                for (cell, outputs) in outputsByCell {
                    for n in 0..<images {
                        var sum = 0.0
                        for v in outputs { sum += Double(x[n * voxels + v]) }
                        o[cell * images + n] = Float(sum / Double(outputs.count))
                    }
                }
            }
        }
        return Tensor(shape: shape + [images], floats: out)
    }

    /// The volume a result's metadata describes (`voxel_ijk`, `volume_shape`), and its affine.
    public static func volume(of result: EncodingResult, output: String = "responses") throws -> (volume: Tensor, affine: [Double]) {
        guard let responses = result.responses[output] else {
            throw BERGError.invalidInput("the result has no output named '\(output)'")
        }
        guard let ijk = result.metadata.tensor("voxel_ijk"), let shape = result.metadata.tensor("volume_shape"),
              let affine = result.metadata.tensor("affine"), affine.count == 16 else {
            throw BERGError.unsupported("this model's metadata places no outputs on a voxel grid (voxel_ijk, volume_shape, affine), so it cannot write a volume")
        }
        return (try scatter(responses, voxelIJK: ijk, shape: shape.int64s.map { Int($0) }), affine.doubles)
    }
}
