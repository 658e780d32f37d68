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

/// A fitted readout: the test rows' predictions, and, when asked, coefficients [V, p] and
/// intercepts [V] such that a prediction is x·coefᵀ + intercept for uncentred features x.
struct FittedReadout {
    /// [m, V], float32.
    var predictions: [Float]
    var coefficients: DenseMatrix?
    var intercept: [Double]?
    /// The penalty chosen for each voxel (RidgeCV).
    var alphas: [Double]?
}

/// Wide raw features seen through their Gram matrix: the centred Gram of the training rows,
/// the centred cross Gram of the test rows with them, and the features themselves for the
/// coefficients (Xcᵀ·dual).
struct KernelFeatures {
    let rows: FeatureRows
    /// The training rows' mean [P].
    let mean: [Double]
    /// [n, n].
    let train: DenseMatrix
    /// [m, n].
    let test: DenseMatrix
    let trainRows: [Int]

    /// Coefficients [V, P] from a dual solution [n, V]: (X − mean)ᵀ·dual, transposed.
    func coefficients(dual: DenseMatrix) -> DenseMatrix {
        rows.leftTimes(dual.transposed, rows: trainRows, shift: mean)
    }
}

/// X·Xᵀ of all rows (shifted by their mean), computed once and shared by the folds: a fold's
/// centred Gram blocks are cut from it and double-centred.
final class SharedGram: @unchecked Sendable {
    let features: FeatureRows
    let shift: [Double]
    let gram: DenseMatrix

    init(features: FeatureRows) {
        self.features = features
        shift = features.columnMeans()
        gram = features.gram(shift: shift)
    }

    /// The centred Gram of `train` [n, n] and the centred cross Gram of `test` with it [m, n]:
    /// (x_a − μ)·(x_b − μ) with μ the training mean, from G_ab − r_a − r_b + c.
    func centredBlocks(train: [Int], test: [Int]) -> (train: DenseMatrix, test: DenseMatrix) {
        let n = train.count, m = test.count, width = gram.columns
        func rowMean(_ i: Int) -> Double {
            var s = 0.0
            for j in train { s += gram.values[i * width + j] }
            return s / Double(n)
        }
        let trainMeans = train.map(rowMean)
        let total = trainMeans.reduce(0, +) / Double(n)
        var block = DenseMatrix(zeros: n, n)
        block.values.withUnsafeMutableBufferPointer { out in
            gram.values.withUnsafeBufferPointer { g in
                for (a, i) in train.enumerated() {
                    for (b, j) in train.enumerated() { out[a * n + b] = g[i * width + j] - trainMeans[a] - trainMeans[b] + total }
                }
            }
        }
        var cross = DenseMatrix(zeros: m, n)
        let testMeans = test.map(rowMean)
        cross.values.withUnsafeMutableBufferPointer { out in
            gram.values.withUnsafeBufferPointer { g in
                for (a, i) in test.enumerated() {
                    for (b, j) in train.enumerated() { out[a * n + b] = g[i * width + j] - testMeans[a] - trainMeans[b] + total }
                }
            }
        }
        return (block, cross)
    }

    /// The kernel features of a fold.
    func kernel(train: [Int], test: [Int]) -> KernelFeatures {
        let (block, cross) = centredBlocks(train: train, test: test)
        return KernelFeatures(rows: features, mean: features.columnMeans(train), train: block, test: cross, trainRows: train)
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

    /// Coefficients [V, p] (from coefT [p, V]) and intercepts ȳ − mean·coef.
    static func readout(_ coefT: DenseMatrix, featureMeans: [Double], responseMeans: [Double]) -> (DenseMatrix, [Double]) {
        let coefficients = coefT.transposed
        return (coefficients, intercepts(coefficients, featureMeans: featureMeans, responseMeans: responseMeans))
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
