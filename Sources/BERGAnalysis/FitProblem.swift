import BERGCore
import CBLAS
import Foundation

/// One fit of a linear readout: the training and test rows' features (PCA scores or the raw
/// features), the responses, and whether the coefficients are wanted (the refit on all rows)
/// or only the test rows' predictions (a cross-validation fold).
struct FitProblem {
    enum Features {
        /// Features of the training and the test rows, not centred.
        case dense(train: DenseMatrix, test: DenseMatrix)
        /// Wide raw features (fewer rows than units), through the shared Gram matrix.
        case kernel(KernelFeatures)
    }

    var features: Features
    var responses: ResponseRows
    var trainRows: [Int]
    var testRows: [Int]
    var wantCoefficients: Bool

    var trainCount: Int { trainRows.count }
    var voxelCount: Int { responses.columns }

    /// The training rows' response means [V].
    func responseMeans() -> [Double] { responses.columnMeans(trainRows) }

    /// The dense features centred on the training mean (train, test, the mean).
    func centred() -> (train: DenseMatrix, test: DenseMatrix, mean: [Double]) {
        guard case .dense(var train, var test) = features else { preconditionFailure("centred() needs dense features") }
        let mean = train.columnMeans()
        train.subtractFromRows(mean)
        test.subtractFromRows(mean)
        return (train, test, mean)
    }
}

/// A fitted readout: the test rows' predictions, and, when asked, coefficients [V, p]
/// (float32, as the model package stores them) and intercepts [V] such that a prediction is
/// x·coefᵀ + intercept for uncentred features x.
struct FittedReadout {
    /// [m, V], float32.
    var predictions: [Float]
    var coefficients: [Float]? = nil
    /// p, the columns of `coefficients`.
    var inputCount = 0
    var intercept: [Double]? = nil
    /// The penalty chosen for each voxel (RidgeCV).
    var alphas: [Double]? = nil
    /// RidgeCV: voxels whose choice of alpha was close enough to be decided again in float64.
    var recheckedVoxels = 0

    /// Sets the coefficients from coefT [p, V] (float64) and the intercepts ȳ − mean·coef.
    mutating func setCoefficients(_ coefT: DenseMatrix, featureMeans: [Double], responseMeans: [Double]) {
        let transposed = coefT.transposed
        coefficients = transposed.values.map(Float.init)
        inputCount = coefT.rows
        intercept = FitProblem.intercepts(transposed, featureMeans: featureMeans, responseMeans: responseMeans)
    }
}

/// Wide raw features seen through the shared Gram matrix: a fold's centred Gram blocks are
/// made when asked for (each is large), and the coefficients come from a dual solution.
struct KernelFeatures {
    let shared: SharedGram
    let trainRows: [Int]
    let testRows: [Int]
    /// The training rows' mean [P].
    let mean: [Double]

    /// The centred Gram of the training rows [n, n].
    func trainGram() -> DenseMatrix { shared.centredGram(trainRows) }
    /// The centred cross Gram of the test rows with the training rows [m, n].
    func crossGram() -> DenseMatrix { shared.centredCross(testRows, with: trainRows) }

    /// Coefficients [V, P] = ((X − mean)ᵀ·dual)ᵀ for a dual solution [n, V], by float32
    /// products over row blocks, and intercepts ȳ − mean·coef.
    func coefficients(dual: [Float], voxels v: Int, responseMeans: [Double]) -> (coefficients: [Float], intercept: [Double]) {
        let rows = shared.features, p = rows.columns
        var out = [Float](repeating: 0, count: v * p)
        let height = max(1, min(trainRows.count, PatternMatrix.blockBudget / p))
        var block = [Float](repeating: 0, count: height * p)
        var start = 0
        while start < trainRows.count {
            let range = start ..< min(trainRows.count, start + height)
            block.withUnsafeMutableBufferPointer { b in
                rows.copy(rows: trainRows[range], columns: 0..<p, shift: mean, into: b.baseAddress!)
                dual.withUnsafeBufferPointer { d in
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(v), Int32(p), Int32(range.count), 1,
                                d.baseAddress! + start * v, Int32(v), b.baseAddress, Int32(p), start == 0 ? 0 : 1, &out, Int32(p))
                }
            }
            start = range.upperBound
        }
        var intercept = responseMeans
        for j in 0..<v {
            var s = 0.0
            for k in 0..<p { s += mean[k] * Double(out[j * p + k]) }
            intercept[j] -= s
        }
        return (out, intercept)
    }
}

/// X·Xᵀ of all rows (shifted by their mean), computed once and shared by the folds: a fold's
/// centred Gram blocks are cut from it and double-centred,
/// (x_a − μ)·(x_b − μ) = G_ab − r_a − r_b + c with μ the training mean, r the rows' means over
/// the training columns and c their mean.
final class SharedGram: @unchecked Sendable {
    let features: PatternMatrix
    let shift: [Double]
    let gram: DenseMatrix

    init(features: PatternMatrix) {
        self.features = features
        shift = features.columnMeans()
        gram = features.gram(shift: shift)
    }

    /// Each row's mean over the `train` columns.
    func rowMeans(_ rows: [Int], over train: [Int]) -> [Double] {
        let width = gram.columns
        return gram.values.withUnsafeBufferPointer { g in
            rows.map { i in
                var s = 0.0
                for j in train { s += g[i * width + j] }
                return s / Double(train.count)
            }
        }
    }

    /// The centred Gram of `train` [n, n].
    func centredGram(_ train: [Int]) -> DenseMatrix {
        let means = rowMeans(train, over: train)
        return block(train, means, train, means, total: means.reduce(0, +) / Double(train.count))
    }

    /// The centred cross Gram of `test` with `train` [m, n].
    func centredCross(_ test: [Int], with train: [Int]) -> DenseMatrix {
        let trainMeans = rowMeans(train, over: train)
        return block(test, rowMeans(test, over: train), train, trainMeans, total: trainMeans.reduce(0, +) / Double(train.count))
    }

    func block(_ rows: [Int], _ rowMeans: [Double], _ columns: [Int], _ columnMeans: [Double], total: Double) -> DenseMatrix {
        var out = DenseMatrix(zeros: rows.count, columns.count)
        let width = gram.columns, n = columns.count
        out.values.withUnsafeMutableBufferPointer { o in
            gram.values.withUnsafeBufferPointer { g in
                for (a, i) in rows.enumerated() {
                    for (b, j) in columns.enumerated() { o[a * n + b] = g[i * width + j] - rowMeans[a] - columnMeans[b] + total }
                }
            }
        }
        return out
    }

    /// The kernel features of a fold.
    func kernel(train: [Int], test: [Int]) -> KernelFeatures {
        KernelFeatures(shared: self, trainRows: train, testRows: test, mean: features.columnMeans(train))
    }
}

extension FitProblem {
    /// (train features centred)ᵀ·(train responses centred): [p, V], in float64, by voxel blocks.
    func crossCovariance(_ centredTrain: DenseMatrix, responseMeans: [Double]) -> DenseMatrix {
        let p = centredTrain.columns, v = voxelCount
        var out = DenseMatrix(zeros: p, v)
        let step = 1024
        var start = 0
        while start < v {
            let voxels = start ..< min(v, start + step)
            let y = responses.dense(trainRows, voxels: voxels, shift: responseMeans)
            let part = DenseMatrix.product(centredTrain, y, transposeA: true)
            for i in 0..<p { for (c, j) in voxels.enumerated() { out.values[i * v + j] = part.values[i * voxels.count + c] } }
            start = voxels.upperBound
        }
        return out
    }

    /// Predictions [m, V] = centredTest·coefT + means, float32 (`coefT` is [p, V]).
    static func predictions(_ centredTest: DenseMatrix, _ coefT: DenseMatrix, means: [Double]) -> [Float] {
        let product = DenseMatrix.product(centredTest, coefT)
        let v = coefT.columns
        var out = [Float](repeating: 0, count: product.values.count)
        for i in 0..<centredTest.rows { for j in 0..<v { out[i * v + j] = Float(product.values[i * v + j] + means[j]) } }
        return out
    }

    /// ȳ − mean·coef for coefficients [V, p].
    static func intercepts(_ coefficients: DenseMatrix, featureMeans: [Double], responseMeans: [Double]) -> [Double] {
        var intercept = responseMeans
        let p = coefficients.columns
        for j in 0..<coefficients.rows {
            var s = 0.0
            for k in 0..<p { s += featureMeans[k] * coefficients.values[j * p + k] }
            intercept[j] -= s
        }
        return intercept
    }
}
