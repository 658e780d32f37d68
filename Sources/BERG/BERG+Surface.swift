import BERGCompute
import BERGCore
import BERGFormats
import Foundation

extension BERG {
    /// One output of a surface-placed result over its whole mesh: per stimulus, one float32
    /// value per vertex, the output's column at its vertex and NaN at vertices not selected.
    public static func responseSurface(_ result: EncodingResult, output: String) throws -> [[Float]] {
        guard case .surface(let placement)? = result.placement else {
            throw BERGError.unsupported("these responses are not placed on a surface mesh\(result.placement.map { " (they lie on a \($0.kindName))" } ?? "")")
        }
        guard let responses = result.responses[output], let vertices = placement.vertices[output],
              let count = placement.vertexCount[output] else {
            throw BERGError.invalidInput("the result has no surface output '\(output)'; it has: \(placement.vertices.keys.sorted().joined(separator: ", "))")
        }
        let n = responses.shape.first ?? 0
        guard responses.rank == 2, responses.shape[1] == vertices.count else {
            throw BERGError.shapeMismatch(what: "surface output '\(output)' (images, vertices)", expected: [n, vertices.count], actual: responses.shape)
        }
        let values = responses.floats
        return (0..<n).map { i in
            var row = [Float](repeating: .nan, count: count)
            for (column, vertex) in vertices.enumerated() { row[vertex] = values[i * vertices.count + column] }
            return row
        }
    }

    /// Writes `responseSurface(result, output:)` as a GIfTI functional file (`.func.gii`): one
    /// data array per stimulus, named after it, as nibabel and nilearn read them.
    public static func writeResponseSurface(_ result: EncodingResult, output: String, to path: String) throws {
        let arrays = try responseSurface(result, output: output)
        guard case .surface(let placement)? = result.placement else { return }
        let names = result.stimulusNames.count == arrays.count ? result.stimulusNames : (0..<arrays.count).map { "image-\($0)" }
        var metadata: [(String, String)] = [("mesh", placement.mesh), ("output", output), ("berg_version", BERG.version)]
        if let id = result.metadata.string("model_id") { metadata.insert(("model_id", id), at: 0) }
        try GIfTIFile.writeFunctional(arrays, names: names, metadata: metadata, to: path, threads: ComputeThreads.count)
    }
}

/// `--surface`: one output's rows put on all of its mesh's vertices (NaN elsewhere) and
/// streamed into a GIfTI file, a batch at a time.
final class SurfaceWriter: ResultSink {
    private let output: String
    private let names: [String]
    private let vertices: [Int]
    private let writer: GIfTIFile.StreamWriter
    private var rows = 0

    init(path: String, output: String, names: [String], placement: ResponsePlacement?, modelID: String) throws {
        guard case .surface(let surface)? = placement, let vertices = surface.vertices[output],
              let count = surface.vertexCount[output] else {
            throw BERGError.unsupported("this model's output '\(output)' is not placed on a surface mesh, so it cannot be written as GIfTI")
        }
        self.output = output
        self.names = names
        self.vertices = vertices
        writer = try GIfTIFile.StreamWriter(path: path, arrays: names.count, vertexCount: count, metadata: [
            ("model_id", modelID), ("mesh", surface.mesh), ("output", output), ("berg_version", BERG.version)])
    }

    func append(_ batch: EncodingResult) throws {
        guard let responses = batch.responses[output], responses.rank == 2, responses.shape[1] == vertices.count else {
            throw BERGError.shapeMismatch(what: "surface output '\(output)' (images, vertices)", expected: [-1, vertices.count],
                                          actual: batch.responses[output]?.shape ?? [])
        }
        let n = responses.shape[0], values = responses.floats
        let rowsOnMesh: [[Float]] = (0..<n).map { i in
            var row = [Float](repeating: .nan, count: writer.vertexCount)
            for (column, vertex) in vertices.enumerated() { row[vertex] = values[i * vertices.count + column] }
            return row
        }
        try writer.append(rowsOnMesh, names: Array(names[rows ..< rows + n]), threads: ComputeThreads.count)
        rows += n
    }

    func finish(_ summary: EncodingSummary) throws { try writer.finish() }

    func commit() throws { try writer.commit() }

    func discard() { writer.discard() }
}
