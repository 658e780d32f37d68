import BERGCompute
import BERGCore
import Foundation

/// Stimulus patterns, N rows (stimuli) by P columns (units), as stored: float32 or float64,
/// row-major. A tensor [N, ...] is read as [N, P] with each stimulus flattened in C order.
///
/// The products below (Gram matrix, covariance) run in float64 on blocks widened from the
/// stored values, so a float32 feature layer is never copied whole into float64. RSA's patterns
/// and `berg fit`'s features (`PatternMatrix+Rows.swift`) are both read this way.
public struct PatternMatrix: Sendable {
    enum Values: Sendable {
        case float32([Float])
        case float64([Double])
    }

    /// What is subtracted from each value before a product: nothing, a mean per row (a
    /// stimulus), or a mean per column (a unit).
    enum Centring {
        case none
        case rows([Double])
        case columns([Double])
    }

    public let rows: Int
    public let columns: Int
    let values: Values

    /// Doubles in one column or row block (32 MiB).
    static let blockBudget = 4 << 20

    public init(_ tensor: Tensor, name: String) throws {
        guard tensor.rank >= 2, tensor.shape[0] > 0 else {
            throw BERGError.invalidInput("\(name) has shape \(tensor.shape); patterns need [stimuli, units...]")
        }
        rows = tensor.shape[0]
        columns = tensor.count / rows
        guard columns > 0 else { throw BERGError.invalidInput("\(name) has shape \(tensor.shape): no units") }
        switch tensor.storage {
        case .float32(let a): values = .float32(a)
        case .float64(let a): values = .float64(a)
        default: values = .float64(tensor.doubles)
        }
        if let bad = firstNonFinite() {
            throw BERGError.invalidInput("\(name) holds a NaN or infinite value (stimulus \(bad / columns), unit \(bad % columns)); leave such units out, for example with a mask")
        }
    }

    init(rows: Int, columns: Int, doubles: [Double]) {
        self.init(rows: rows, columns: columns, values: .float64(doubles))
    }

    init(rows: Int, columns: Int, values: Values) {
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    func firstNonFinite() -> Int? {
        switch values {
        case .float32(let a): return a.firstIndex { !$0.isFinite }
        case .float64(let a): return a.firstIndex { !$0.isFinite }
        }
    }

    var doubles: [Double] {
        switch values {
        case .float32(let a): return a.map(Double.init)
        case .float64(let a): return a
        }
    }

    /// The mean of each row, accumulated in float64.
    func rowMeans() -> [Double] {
        func means<T: BinaryFloatingPoint>(_ a: [T]) -> [Double] {
            (0..<rows).map { i in
                var sum = 0.0
                for j in 0..<columns { sum += Double(a[i * columns + j]) }
                return sum / Double(columns)
            }
        }
        switch values {
        case .float32(let a): return means(a)
        case .float64(let a): return means(a)
        }
    }

    /// The mean of each column, accumulated in float64.
    func columnMeans() -> [Double] {
        func means<T: BinaryFloatingPoint>(_ a: [T]) -> [Double] {
            var sums = [Double](repeating: 0, count: columns)
            for i in 0..<rows {
                for j in 0..<columns { sums[j] += Double(a[i * columns + j]) }
            }
            return sums.map { $0 / Double(rows) }
        }
        switch values {
        case .float32(let a): return means(a)
        case .float64(let a): return means(a)
        }
    }

    /// Copies rows `rowRange` × columns `columnRange`, centred, into `out` (row-major,
    /// `columnRange.count` wide), on several threads when the block is large.
    func copyBlock(rows rowRange: Range<Int>, columns columnRange: Range<Int>, centring: Centring,
                   into out: UnsafeMutablePointer<Double>) {
        let width = columnRange.count
        let workers = rowRange.count * width >= 1 << 18 ? min(ComputeThreads.count, rowRange.count) : 1
        let shared = UncheckedSendable((self, out))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let (matrix, out) = shared.value
            let start = rowRange.lowerBound + rowRange.count * w / workers
            let end = rowRange.lowerBound + rowRange.count * (w + 1) / workers
            for i in start..<end {
                matrix.copyRow(i, columns: columnRange, centring: centring, into: out + (i - rowRange.lowerBound) * width)
            }
        }
    }

    /// One row's `columns`, centred, widened to float64.
    @inline(__always)
    func copyRow(_ i: Int, columns range: Range<Int>, centring: Centring, into to: UnsafeMutablePointer<Double>) {
        func copy<T: BinaryFloatingPoint>(_ a: UnsafeBufferPointer<T>) {
            let from = i * columns + range.lowerBound, width = range.count
            switch centring {
            case .none:
                for j in 0..<width { to[j] = Double(a[from + j]) }
            case .rows(let means):
                let m = means[i]
                for j in 0..<width { to[j] = Double(a[from + j]) - m }
            case .columns(let means):
                for j in 0..<width { to[j] = Double(a[from + j]) - means[range.lowerBound + j] }
            }
        }
        switch values {
        case .float32(let a): a.withUnsafeBufferPointer { copy($0) }
        case .float64(let a): a.withUnsafeBufferPointer { copy($0) }
        }
    }

    /// Calls `body` with consecutive blocks of whole columns (all rows, row-major, the block's
    /// width apart), centred, in float64; a block holds about `budget` doubles.
    func forEachColumnBlock(centring: Centring, budget: Int = blockBudget, _ body: (Range<Int>, UnsafeMutablePointer<Double>) -> Void) {
        let width = max(1, min(columns, budget / rows))
        var block = [Double](repeating: 0, count: rows * width)
        var start = 0
        while start < columns {
            let range = start ..< min(columns, start + width)
            block.withUnsafeMutableBufferPointer { b in
                copyBlock(rows: 0..<rows, columns: range, centring: centring, into: b.baseAddress!)
                body(range, b.baseAddress!)
            }
            start = range.upperBound
        }
    }

    /// Calls `body` with consecutive blocks of whole rows (all columns, row-major), centred,
    /// in float64.
    func forEachRowBlock(centring: Centring, _ body: (Range<Int>, UnsafeMutablePointer<Double>) -> Void) {
        let height = max(1, min(rows, PatternMatrix.blockBudget / columns))
        var block = [Double](repeating: 0, count: height * columns)
        var start = 0
        while start < rows {
            let range = start ..< min(rows, start + height)
            block.withUnsafeMutableBufferPointer { b in
                copyBlock(rows: range, columns: 0..<columns, centring: centring, into: b.baseAddress!)
                body(range, b.baseAddress!)
            }
            start = range.upperBound
        }
    }

    /// X·Xᵀ of the centred patterns, [N, N] row-major; only the upper triangle (j ≥ i) is
    /// filled. BLAS `dsyrk` over blocks of columns.
    func gram(centring: Centring) -> [Double] {
        var gram = [Double](repeating: 0, count: rows * rows)
        gram.withUnsafeMutableBufferPointer { g in
            forEachColumnBlock(centring: centring) { range, block in
                GEMM.symmetricRankUpdate(n: rows, k: range.count, a: block, lda: range.count,
                                         beta: range.lowerBound == 0 ? 0 : 1, c: g.baseAddress!, ldc: rows)
            }
        }
        return gram
    }

    /// Xᵀ·X of the centred patterns, [P, P] row-major; only the upper triangle is filled.
    /// BLAS `dsyrk` over blocks of rows.
    func crossProduct(centring: Centring) -> [Double] {
        var product = [Double](repeating: 0, count: columns * columns)
        product.withUnsafeMutableBufferPointer { c in
            forEachRowBlock(centring: centring) { range, block in
                GEMM.symmetricRankUpdate(n: columns, k: range.count, a: block, lda: columns, transposeA: true,
                                         beta: range.lowerBound == 0 ? 0 : 1, c: c.baseAddress!, ldc: columns)
            }
        }
        return product
    }

    /// Centred X times `right` [P, K] (row-major): [N, K], by row blocks.
    func times(_ right: [Double], columns k: Int, centring: Centring) -> [Double] {
        var out = [Double](repeating: 0, count: rows * k)
        out.withUnsafeMutableBufferPointer { o in
            forEachRowBlock(centring: centring) { range, block in
                GEMM.multiply(m: range.count, n: k, k: columns, a: block, lda: columns, b: right, ldb: k,
                              c: o.baseAddress! + range.lowerBound * k, ldc: k)
            }
        }
        return out
    }

    /// `left` [K, N] (row-major) times centred X: [K, P], by column blocks.
    func leftTimes(_ left: [Double], rows k: Int, centring: Centring) -> [Double] {
        var out = [Double](repeating: 0, count: k * columns)
        out.withUnsafeMutableBufferPointer { o in
            forEachColumnBlock(centring: centring) { range, block in
                GEMM.multiply(m: k, n: range.count, k: rows, a: left, lda: rows, b: block, ldb: range.count,
                              c: o.baseAddress! + range.lowerBound, ldc: columns)
            }
        }
        return out
    }
}
