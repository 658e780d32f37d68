import BERGCore
import CBLAS
import Foundation

/// Responses, N rows (stimuli) by V columns (voxels), float32, row-major.
public struct ResponseRows: Sendable {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns)
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// `tensor` [N, V] (float32 or converted to it).
    public init(_ tensor: Tensor, name: String) throws {
        guard tensor.rank == 2, tensor.shape[0] > 0, tensor.shape[1] > 0 else {
            throw BERGError.invalidInput("\(name) has shape \(tensor.shape); responses need [stimuli, voxels]")
        }
        self.init(rows: tensor.shape[0], columns: tensor.shape[1], values: tensor.floats)
    }

    /// The mean of each column over `subset`, in float64.
    func columnMeans(_ subset: [Int]) -> [Double] {
        var sums = [Double](repeating: 0, count: columns)
        sums.withUnsafeMutableBufferPointer { s in
            values.withUnsafeBufferPointer { v in
                for i in subset { for j in 0..<columns { s[j] += Double(v[i * columns + j]) } }
            }
        }
        return sums.map { $0 / Double(max(subset.count, 1)) }
    }

    /// Rows `subset` × columns `voxels`, minus `shift` (per voxel), as float64 [subset, voxels].
    func dense(_ subset: [Int], voxels: Range<Int>, shift: [Double]) -> DenseMatrix {
        var out = DenseMatrix(zeros: subset.count, voxels.count)
        let width = voxels.count
        values.withUnsafeBufferPointer { v in
            out.values.withUnsafeMutableBufferPointer { o in
                for (r, i) in subset.enumerated() {
                    for (c, j) in voxels.enumerated() { o[r * width + c] = Double(v[i * columns + j]) - shift[j] }
                }
            }
        }
        return out
    }

    /// Rows `subset`, minus `shift`, as float32 [subset, V] (for the float32 products of wide
    /// ridge regressions).
    func centredFloats(_ subset: [Int], shift: [Double]) -> [Float] {
        var out = [Float](repeating: 0, count: subset.count * columns)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                for (r, i) in subset.enumerated() {
                    for j in 0..<columns { o[r * columns + j] = Float(Double(v[i * columns + j]) - shift[j]) }
                }
            }
        }
        return out
    }

    /// The columns `keep`, in order.
    public func keepingColumns(_ keep: [Int]) -> ResponseRows {
        var out = [Float]()
        out.reserveCapacity(rows * keep.count)
        for i in 0..<rows { for j in keep { out.append(values[i * columns + j]) } }
        return ResponseRows(rows: rows, columns: keep.count, values: out)
    }
}
