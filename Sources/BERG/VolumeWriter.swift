import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import Foundation

/// `--volume`: each batch's responses put on the model's voxel grid, an image at a time, and
/// streamed into a 4-D NIfTI [X, Y, Z, N] (NaN where no output lies, or the placement's
/// background). A group volume in MNI space (`space: mni` in the model's metadata) says so in
/// its sform code (4); a movie's volumes are `timeStep` seconds apart.
final class VolumeWriter: ResultSink {
    private let path: String
    private let count: Int
    private let placement: VolumePlacement
    private let timeStep: Double?
    private var grid: VoxelGrid?
    private var file: NIfTIFile.StreamWriter?

    init(path: String, count: Int, placement: ResponsePlacement?, timeStep: Double? = nil) throws {
        guard case .volume(let volume)? = placement else {
            throw BERGError.unsupported("this model's responses are not placed on a voxel grid\(placement.map { " (they lie on a \($0.kindName))" } ?? ""), so they cannot be written as a volume")
        }
        self.path = path
        self.count = count
        self.placement = volume
        self.timeStep = timeStep
    }

    func append(_ batch: EncodingResult) throws {
        if grid == nil {
            let widths = try batch.responses.mapValues { tensor -> Int in
                guard tensor.rank == 2 else { throw BERGError.shapeMismatch(what: "responses [images, voxels]", expected: [-1, -1], actual: tensor.shape) }
                return tensor.shape[1]
            }
            let grid = try VoxelGrid(placement, widths: widths)
            let sformCode = batch.metadata["space"] == .string("mni") ? 4 : 2
            file = try NIfTIFile.StreamWriter(path: path, shape: grid.shape + [count], affine: placement.affineRows,
                                              threads: ComputeThreads.count, sformCode: sformCode, timeStep: timeStep)
            self.grid = grid
        }
        guard let grid, let file else { return }
        let images = batch.responses.values.first?.shape.first ?? 0
        let rows = VoxelVolume.joinedRows(batch.responses, outputs: grid.outputs, images: images)
        var volume = [Float](repeating: grid.background, count: grid.cellsPerImage)
        try rows.withUnsafeBufferPointer { r in
            for n in 0..<images {
                volume.withUnsafeMutableBufferPointer { grid.volume(row: UnsafeBufferPointer(rebasing: r[n * grid.columnCount ..< (n + 1) * grid.columnCount]), into: $0) }
                try volume.withUnsafeBufferPointer { try file.append($0) }
            }
        }
    }

    func finish(_ summary: EncodingSummary) throws {
        guard let file else { throw BERGError.invalidInput("no responses to write to \(path)") }
        try file.finish()
    }

    func commit() throws { try file?.commit() }

    func discard() { file?.discard() }
}

/// `--picture`: keeps every response (pRF models have few outputs) and draws them at the end.
final class PictureWriter: ResultSink {
    private let path: String
    private let collector = ResultCollector()

    init(path: String) { self.path = path }

    func append(_ batch: EncodingResult) throws { try collector.append(batch) }

    private var drawn = false

    /// Draws the picture (last of a run's outputs, so a failure here leaves the others unmade).
    func finish(_ summary: EncodingSummary) throws {
        try collector.finish(summary)
        try BERG.writeResponsePicture(collector.result(), to: path)
        drawn = true
    }

    func commit() throws {}

    func discard() {
        collector.discard()
        if drawn { try? FileManager.default.removeItem(atPath: path) }
    }
}
