import BERGCompute
import BERGCore
import CBLAS
import Foundation

/// What cross-validation needs of a feature matrix: products over any set of rows (a fold's
/// training or test rows), with a column shift (a mean) subtracted in float64.
extension PatternMatrix {
    /// Each stimulus z-scored across its units (mean 0, population std 1), as
    /// `scipy.stats.zscore(x, axis=1)`; computed in float64, stored in the input's type.
    public func zscoredRows(name: String) throws -> PatternMatrix {
        func zscore<T: BinaryFloatingPoint>(_ input: [T]) throws -> [T] {
            var a = input
            for i in 0..<rows {
                var sum = 0.0
                for j in 0..<columns { sum += Double(a[i * columns + j]) }
                let mean = sum / Double(columns)
                var squares = 0.0
                for j in 0..<columns { let d = Double(a[i * columns + j]) - mean; squares += d * d }
                let std = (squares / Double(columns)).squareRoot()
                guard std > 0 else {
                    throw BERGError.invalidInput("\(name): stimulus \(i) has the same value in every unit, so its features cannot be z-scored (--zscore-features)")
                }
                for j in 0..<columns { a[i * columns + j] = T((Double(a[i * columns + j]) - mean) / std) }
            }
            return a
        }
        switch values {
        case .float32(let a): return PatternMatrix(rows: rows, columns: columns, values: .float32(try zscore(a)))
        case .float64(let a): return PatternMatrix(rows: rows, columns: columns, values: .float64(try zscore(a)))
        }
    }

    /// The mean of each column over the rows `subset`, in float64.
    func columnMeans(_ subset: [Int]) -> [Double] {
        var sums = [Double](repeating: 0, count: columns)
        func add<T: BinaryFloatingPoint>(_ a: [T]) {
            sums.withUnsafeMutableBufferPointer { s in
                for i in subset {
                    let base = i * columns
                    for j in 0..<columns { s[j] += Double(a[base + j]) }
                }
            }
        }
        switch values {
        case .float32(let a): add(a)
        case .float64(let a): add(a)
        }
        return sums.map { $0 / Double(max(subset.count, 1)) }
    }

    /// Copies rows `indices` × columns `columnRange`, minus `shift` (per column, subtracted in
    /// float64), into `out` (row-major, `columnRange.count` wide) as float64 or float32.
    func copy<Element: BinaryFloatingPoint>(rows indices: ArraySlice<Int>, columns columnRange: Range<Int>, shift: [Double]?,
                                            into out: UnsafeMutablePointer<Element>) {
        let width = columnRange.count
        let destination = UncheckedSendable(out)
        let rowList = Array(indices)
        func copy<T: BinaryFloatingPoint>(_ a: UnsafeBufferPointer<T>) {
            let source = UncheckedSendable(a)
            Parallel.chunks(rowList.count, minChunk: max(1, (1 << 16) / max(width, 1))) { range in
                let a = source.value, out = destination.value
                for r in range {
                    let from = rowList[r] * columns + columnRange.lowerBound
                    let to = out + r * width
                    if let shift {
                        for j in 0..<width { to[j] = Element(Double(a[from + j]) - shift[columnRange.lowerBound + j]) }
                    } else {
                        for j in 0..<width { to[j] = Element(a[from + j]) }
                    }
                }
            }
        }
        switch values {
        case .float32(let a): a.withUnsafeBufferPointer { copy($0) }
        case .float64(let a): a.withUnsafeBufferPointer { copy($0) }
        }
    }

    /// Rows `indices` minus `shift`, as a float64 matrix.
    func dense(_ indices: [Int], shift: [Double]? = nil) -> DenseMatrix {
        var out = DenseMatrix(zeros: indices.count, columns)
        out.values.withUnsafeMutableBufferPointer { copy(rows: indices[...], columns: 0..<columns, shift: shift, into: $0.baseAddress!) }
        return out
    }

    /// (X − shift)(X − shift)ᵀ over all rows [N, N], both triangles, by dsyrk on wide column
    /// blocks (a long inner dimension keeps dsyrk near its peak).
    func gram(shift: [Double]) -> DenseMatrix {
        var gram = DenseMatrix(zeros: rows, rows)
        gram.values.withUnsafeMutableBufferPointer { g in
            forEachColumnBlock(centring: .columns(shift), budget: 4 * PatternMatrix.blockBudget) { range, block in
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(rows), Int32(range.count), 1, block, Int32(range.count),
                            range.lowerBound == 0 ? 0 : 1, g.baseAddress, Int32(rows))
            }
        }
        gram.fillLowerFromUpper()
        return gram
    }

    /// (X − shift)ᵀ(X − shift) over all rows [P, P], both triangles.
    func crossProduct(shift: [Double]) -> DenseMatrix {
        var product = DenseMatrix(rows: columns, columns: columns, values: crossProduct(centring: .columns(shift)))
        product.fillLowerFromUpper()
        return product
    }

    /// (X[indices] − shift) · right, where `right` is [P, K]: [indices.count, K].
    func times(_ right: DenseMatrix, rows indices: [Int], shift: [Double]?) -> DenseMatrix {
        precondition(right.rows == columns)
        var out = DenseMatrix(zeros: indices.count, right.columns)
        guard !indices.isEmpty, right.columns > 0 else { return out }
        let height = max(1, min(indices.count, PatternMatrix.blockBudget / columns))
        var block = [Double](repeating: 0, count: height * columns)
        var start = 0
        while start < indices.count {
            let range = start ..< min(indices.count, start + height)
            block.withUnsafeMutableBufferPointer { b in
                copy(rows: indices[range], columns: 0..<columns, shift: shift, into: b.baseAddress!)
                out.values.withUnsafeMutableBufferPointer { o in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(range.count), Int32(right.columns), Int32(columns),
                                1, b.baseAddress, Int32(columns), right.values, Int32(right.columns), 0,
                                o.baseAddress! + start * right.columns, Int32(right.columns))
                }
            }
            start = range.upperBound
        }
        return out
    }

    /// left · (X[indices] − shift), where `left` is [K, indices.count]: [K, P].
    func leftTimes(_ left: DenseMatrix, rows indices: [Int], shift: [Double]?) -> DenseMatrix {
        precondition(left.columns == indices.count)
        var out = DenseMatrix(zeros: left.rows, columns)
        guard !indices.isEmpty, left.rows > 0 else { return out }
        let width = max(1, min(columns, PatternMatrix.blockBudget / indices.count))
        var block = [Double](repeating: 0, count: indices.count * width)
        var start = 0
        while start < columns {
            let range = start ..< min(columns, start + width)
            block.withUnsafeMutableBufferPointer { b in
                copy(rows: indices[...], columns: range, shift: shift, into: b.baseAddress!)
                out.values.withUnsafeMutableBufferPointer { o in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(left.rows), Int32(range.count), Int32(indices.count),
                                1, left.values, Int32(indices.count), b.baseAddress, Int32(range.count), 0,
                                o.baseAddress! + start, Int32(columns))
                }
            }
            start = range.upperBound
        }
        return out
    }
}
