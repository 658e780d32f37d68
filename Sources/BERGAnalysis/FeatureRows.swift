import BERGCompute
import BERGCore
import CBLAS
import Foundation

/// Features as stored, N rows (stimuli) by P columns (units), float32 or float64, row-major;
/// a tensor [N, ...] is read with each stimulus flattened in C order. Products run in float64 on
/// blocks widened from the stored values, so float32 features are never copied whole.
public struct FeatureRows: Sendable {
    enum Values: Sendable {
        case float32([Float])
        case float64([Double])
    }

    public let rows: Int
    public let columns: Int
    var values: Values

    /// Doubles in one widened block (32 MiB).
    static let blockBudget = 4 << 20

    /// `tensor` [N, ...] flattened per stimulus; `name` says which input it is in errors.
    public init(_ tensor: Tensor, name: String) throws {
        guard tensor.rank >= 2, tensor.shape[0] > 0, tensor.count > 0 else {
            throw BERGError.invalidInput("\(name) has shape \(tensor.shape); features need [stimuli, units...]")
        }
        rows = tensor.shape[0]
        columns = tensor.count / rows
        switch tensor.storage {
        case .float32(let a): values = .float32(a)
        case .float64(let a): values = .float64(a)
        default: values = .float64(tensor.doubles)
        }
        if let bad = firstNonFinite() {
            throw BERGError.invalidInput("\(name) holds a NaN or infinite value (stimulus \(bad / columns), unit \(bad % columns)); features must be finite")
        }
    }

    init(rows: Int, columns: Int, doubles: [Double]) {
        self.rows = rows
        self.columns = columns
        values = .float64(doubles)
    }

    public var isFloat32: Bool { if case .float32 = values { return true } else { return false } }

    func firstNonFinite() -> Int? {
        switch values {
        case .float32(let a): return a.firstIndex { !$0.isFinite }
        case .float64(let a): return a.firstIndex { !$0.isFinite }
        }
    }

    /// Each stimulus z-scored across its units (mean 0, population std 1), as
    /// `scipy.stats.zscore(x, axis=1)`; computed in float64, stored in the input's type.
    public func zscoredRows(name: String) throws -> FeatureRows {
        var out = self
        func zscore<T: BinaryFloatingPoint>(_ a: inout [T]) throws {
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
        }
        switch out.values {
        case .float32(var a): try zscore(&a); out.values = .float32(a)
        case .float64(var a): try zscore(&a); out.values = .float64(a)
        }
        return out
    }

    /// The mean of each column over `subset` (all rows when nil), in float64.
    func columnMeans(_ subset: [Int]? = nil) -> [Double] {
        var sums = [Double](repeating: 0, count: columns)
        let indices = subset ?? Array(0..<rows)
        func add<T: BinaryFloatingPoint>(_ a: [T]) {
            sums.withUnsafeMutableBufferPointer { s in
                for i in indices {
                    let base = i * columns
                    for j in 0..<columns { s[j] += Double(a[base + j]) }
                }
            }
        }
        switch values {
        case .float32(let a): add(a)
        case .float64(let a): add(a)
        }
        return sums.map { $0 / Double(max(indices.count, 1)) }
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

    /// (X − shift)(X − shift)ᵀ over all rows: [N, N], float64, by dsyrk on column blocks
    /// (wide ones: a long inner dimension keeps dsyrk near its peak).
    func gram(shift: [Double]) -> DenseMatrix {
        var gram = DenseMatrix(zeros: rows, rows)
        let all = Array(0..<rows)
        let width = max(1, min(columns, 4 * FeatureRows.blockBudget / rows))
        var block = [Double](repeating: 0, count: rows * width)
        var start = 0
        while start < columns {
            let range = start ..< min(columns, start + width)
            block.withUnsafeMutableBufferPointer { b in
                copy(rows: all[...], columns: range, shift: shift, into: b.baseAddress!)
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(rows), Int32(range.count), 1, b.baseAddress,
                            Int32(range.count), start == 0 ? 0 : 1, &gram.values, Int32(rows))
            }
            start = range.upperBound
        }
        gram.fillLowerFromUpper()
        return gram
    }

    /// (X − shift)ᵀ(X − shift) over all rows: [P, P], float64, by dsyrk on row blocks.
    func crossProduct(shift: [Double]) -> DenseMatrix {
        var product = DenseMatrix(zeros: columns, columns)
        let height = max(1, min(rows, FeatureRows.blockBudget / columns))
        var block = [Double](repeating: 0, count: height * columns)
        var start = 0
        while start < rows {
            let range = Array(start ..< min(rows, start + height))
            block.withUnsafeMutableBufferPointer { b in
                copy(rows: range[...], columns: 0..<columns, shift: shift, into: b.baseAddress!)
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(columns), Int32(range.count), 1, b.baseAddress,
                            Int32(columns), start == 0 ? 0 : 1, &product.values, Int32(columns))
            }
            start += range.count
        }
        product.fillLowerFromUpper()
        return product
    }

    /// (X[indices] − shift) · right, where `right` is [P, K]: [indices.count, K].
    func times(_ right: DenseMatrix, rows indices: [Int], shift: [Double]?) -> DenseMatrix {
        precondition(right.rows == columns)
        var out = DenseMatrix(zeros: indices.count, right.columns)
        guard !indices.isEmpty, right.columns > 0 else { return out }
        let height = max(1, min(indices.count, FeatureRows.blockBudget / columns))
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
        let width = max(1, min(columns, FeatureRows.blockBudget / indices.count))
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
