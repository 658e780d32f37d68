import BERGCore
import Foundation

/// What `berg fit` fits: optional per-stimulus z-scoring, optional PCA, one linear estimator,
/// scored on held-out rows.
public struct EncodingFitSettings: Sendable, Equatable {
    public enum Estimator: String, Sendable, CaseIterable {
        case linear, ridge, lasso, elasticnet, pls
    }

    public var estimator: Estimator
    /// Ridge, Lasso and ElasticNet's penalty (scikit-learn's default 1.0).
    public var alpha: Double?
    /// Ridge only: RidgeCV's candidates, one chosen per voxel.
    public var alphas: [Double]?
    /// ElasticNet's mix (scikit-learn's default 0.5).
    public var l1Ratio: Double?
    /// PLS components (scikit-learn's default 2).
    public var components: Int?
    /// PCA components before the estimator.
    public var pca: Int?
    public var zscoreFeatures: Bool
    public var validation: Validation
    public var score: ScoreKind

    public init(estimator: Estimator, alpha: Double? = nil, alphas: [Double]? = nil, l1Ratio: Double? = nil,
                components: Int? = nil, pca: Int? = nil, zscoreFeatures: Bool = false,
                validation: Validation = .kFold(5), score: ScoreKind = .correlation) {
        self.estimator = estimator
        self.alpha = alpha
        self.alphas = alphas
        self.l1Ratio = l1Ratio
        self.components = components
        self.pca = pca
        self.zscoreFeatures = zscoreFeatures
        self.validation = validation
        self.score = score
    }

    /// The estimator as scikit-learn would be called, e.g. `Lasso(alpha=0.01)`.
    public var estimatorDescription: String {
        switch estimator {
        case .linear: return "LinearRegression()"
        case .ridge:
            if let alphas { return "RidgeCV(alphas=[\(alphas.map { "\($0)" }.joined(separator: ", "))], alpha_per_target=True)" }
            return "Ridge(alpha=\(alpha ?? 1))"
        case .lasso: return "Lasso(alpha=\(alpha ?? 1))"
        case .elasticnet: return "ElasticNet(alpha=\(alpha ?? 1), l1_ratio=\(l1Ratio ?? 0.5))"
        case .pls: return "PLSRegression(n_components=\(components ?? 2))"
        }
    }

    /// The whole pipeline in scikit-learn's terms.
    public var pipelineDescription: String {
        let steps = (zscoreFeatures ? ["zscore(axis=1)"] : []) + (pca.map { ["PCA(n_components=\($0))"] } ?? [])
        return (steps + [estimatorDescription]).joined(separator: " → ")
    }

    /// Usage errors in the settings themselves (not the data's sizes): a usage error naming
    /// the flag.
    public func check() throws {
        if alphas != nil, estimator != .ridge {
            throw BERGError.invalidArgument(name: "alphas", value: alphas!.map { "\($0)" }.joined(separator: ","),
                                            message: "--alphas chooses a penalty per voxel for ridge only (RidgeCV); the \(estimator.rawValue) estimator takes --alpha")
        }
        if let alphas {
            guard !alphas.isEmpty, alphas.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw BERGError.invalidArgument(name: "alphas", value: alphas.map { "\($0)" }.joined(separator: ","), message: "give one or more positive numbers")
            }
            if alpha != nil {
                throw BERGError.invalidArgument(name: "alpha", value: String(alpha!), message: "give --alpha or --alphas, not both")
            }
        }
        if let alpha, !(alpha >= 0 && alpha.isFinite) || (alpha == 0 && estimator == .ridge) {
            throw BERGError.invalidArgument(name: "alpha", value: String(alpha), message: estimator == .ridge ? "must be positive" : "must be 0 or more")
        }
        if alpha != nil, [.linear, .pls].contains(estimator) {
            throw BERGError.invalidArgument(name: "alpha", value: String(alpha!), message: "the \(estimator.rawValue) estimator has no penalty; --alpha is for ridge, lasso and elasticnet")
        }
        if let l1Ratio {
            guard estimator == .elasticnet else {
                throw BERGError.invalidArgument(name: "l1-ratio", value: String(l1Ratio), message: "--l1-ratio is for the elasticnet estimator")
            }
            guard l1Ratio >= 0, l1Ratio <= 1 else {
                throw BERGError.invalidArgument(name: "l1-ratio", value: String(l1Ratio), message: "must be between 0 and 1")
            }
        }
        if let components {
            guard estimator == .pls else {
                throw BERGError.invalidArgument(name: "components", value: String(components), message: "--components is for the pls estimator (use --pca K for a PCA first)")
            }
            guard components >= 1 else { throw BERGError.invalidArgument(name: "components", value: String(components), message: "must be at least 1") }
        }
        if let pca, pca < 1 { throw BERGError.invalidArgument(name: "pca", value: String(pca), message: "must be at least 1") }
    }
}

/// The linear map `berg fit` refits on all rows: x (optionally z-scored per stimulus) →
/// optional PCA → coefficients, in the feature-linear kind's terms.
public struct FittedPipeline: Sendable {
    /// PCA `mean_` [P] and `components_` [K, P] (row-major), when a PCA was asked for.
    public var pcaMean: [Double]?
    public var pcaComponents: [Double]?
    public var pcaComponentCount: Int
    /// Coefficients [V, p] (row-major, float32) on the PCA scores (or the features), intercepts [V].
    public var coefficients: [Float]
    public var intercept: [Double]
    /// p, the readout's input size.
    public var inputCount: Int
    /// RidgeCV's alpha per voxel.
    public var alphas: [Double]?
}

/// The outcome of `EncodingFit.run`.
public struct EncodingFitResult: Sendable {
    /// [V, folds] row-major.
    public var scores: [Double]
    public var folds: Int
    /// Held-out predictions [predictedRows.count, V], row-major.
    public var predictions: [Float]
    /// Which rows `predictions` holds, in order (all rows for K-fold, the validation rows for a
    /// hold-out split).
    public var predictedRows: [Int]
    /// RidgeCV's alpha per voxel and fold [V, folds], row-major.
    public var foldAlphas: [Double]?
    public var model: FittedPipeline

    /// Each voxel's mean score over the folds.
    public var meanScores: [Double] {
        let v = scores.count / max(folds, 1)
        return (0..<v).map { j in (0..<folds).reduce(0.0) { $0 + scores[j * folds + $1] } / Double(folds) }
    }
}

/// Cross-validated encoding models with scikit-learn's numbers: per fold, the PCA and the
/// estimator are fitted on the training rows only and predict the held-out rows; then the
/// pipeline is refitted on all rows.
public enum EncodingFit {
    /// Checks the settings against the data's sizes before any work: the same stimuli, and
    /// PCA and PLS component counts no larger than the smallest training set allows. Usage
    /// errors name the shapes.
    public static func check(features: PatternMatrix, responses: ResponseRows, settings: EncodingFitSettings) throws {
        try settings.check()
        guard features.rows == responses.rows else {
            throw BERGError.invalidArgument(
                name: "responses", value: "[\(responses.rows), \(responses.columns)]",
                message: "the features [\(features.rows), \(features.columns)] and responses [\(responses.rows), \(responses.columns)] differ in their number of stimuli")
        }
        let splits = try settings.validation.splits(rows: features.rows)
        let smallestTraining = splits.map(\.train.count).min() ?? features.rows
        if let k = settings.pca, k > min(smallestTraining, features.columns) {
            throw BERGError.invalidArgument(name: "pca", value: String(k),
                                            message: "PCA(\(k)) needs K ≤ the training rows and the features, but the smallest training set is [\(smallestTraining), \(features.columns)]")
        }
        let k = settings.components ?? 2
        if settings.estimator == .pls, k > min(smallestTraining, settings.pca ?? features.columns) {
            throw BERGError.invalidArgument(name: "components", value: String(k),
                                            message: "PLSRegression(\(k)) needs K ≤ the training rows and the features, but the smallest training set is [\(smallestTraining), \(settings.pca ?? features.columns)]")
        }
    }

    public static func run(features: PatternMatrix, responses: ResponseRows, settings: EncodingFitSettings,
                           progress: ((String) -> Void)? = nil) throws -> EncodingFitResult {
        try check(features: features, responses: responses, settings: settings)
        let splits = try settings.validation.splits(rows: features.rows)
        let say = progress ?? { _ in }
        let started = Date()
        let x = settings.zscoreFeatures ? try features.zscoredRows(name: "the features") : features
        let all = Array(0..<x.rows)

        // Products of the whole feature matrix, shared by the folds and the refit.
        let kernelEstimator = settings.estimator == .linear || settings.estimator == .ridge
        let sharedGram: SharedGram? = (settings.pca != nil || kernelEstimator) && x.rows <= x.columns
            ? SharedGram(features: x) : nil
        let pca = settings.pca.map { SubsetPCA(features: x, componentCount: $0, gram: sharedGram) }
        if sharedGram != nil || pca != nil {
            say(String(format: "features [%d, %d]: %@ in %.1f s", x.rows, x.columns,
                       sharedGram != nil ? "Gram matrix X·Xᵀ" : "cross product Xᵀ·X", Date().timeIntervalSince(started)))
        }
        func problem(train: [Int], test: [Int], coefficients: Bool, warmStart: PCA?) throws -> (FitProblem, PCA?) {
            if let pca {
                let (fit, scores) = try pca.fit(rows: train, warmStart: warmStart)
                return (FitProblem(features: .dense(train: scores, test: fit.transform(x, rows: test)), responses: responses,
                                   trainRows: train, testRows: test, wantCoefficients: coefficients), fit)
            }
            if kernelEstimator, let sharedGram {
                return (FitProblem(features: .kernel(sharedGram.kernel(train: train, test: test)), responses: responses,
                                   trainRows: train, testRows: test, wantCoefficients: coefficients), nil)
            }
            return (FitProblem(features: .dense(train: x.dense(train), test: x.dense(test)), responses: responses,
                               trainRows: train, testRows: test, wantCoefficients: coefficients), nil)
        }

        // The refit on all rows first: its components start the folds' PCA.
        var clock = Date()
        let (whole, wholePCA) = try problem(train: all, test: [], coefficients: true, warmStart: nil)
        let refit = try estimate(whole, settings)
        say(String(format: "all %d rows: %@ in %.1f s%@", x.rows, settings.pipelineDescription, Date().timeIntervalSince(clock),
                   refit.recheckedVoxels > 0 ? " (\(refit.recheckedVoxels) voxels' alphas decided again in float64)" : ""))

        let v = responses.columns, folds = splits.count
        var scores = [Double](repeating: .nan, count: v * folds)
        var foldAlphas: [Double]? = settings.alphas != nil ? [Double](repeating: .nan, count: v * folds) : nil
        let predictedRows = splits.flatMap(\.test)
        var predictions = [Float](repeating: 0, count: predictedRows.count * v)
        var offset = 0
        for (index, split) in splits.enumerated() {
            clock = Date()
            let (fold, _) = try problem(train: split.train, test: split.test, coefficients: false, warmStart: wholePCA)
            let fitted = try estimate(fold, settings)
            let foldScores = settings.score.scores(predicted: fitted.predictions, responses: responses, rows: split.test)
            for j in 0..<v { scores[j * folds + index] = foldScores[j] }
            if let alphas = fitted.alphas { for j in 0..<v { foldAlphas![j * folds + index] = alphas[j] } }
            predictions.replaceSubrange((offset * v) ..< ((offset + split.test.count) * v), with: fitted.predictions)
            offset += split.test.count
            say(String(format: "fold %d/%d: %@ on %d rows, scored on %d: median %@ %.4f (%.1f s)", index + 1, folds,
                       settings.pipelineDescription, split.train.count, split.test.count, settings.score.rawValue,
                       EncodingFit.median(foldScores), Date().timeIntervalSince(clock)))
        }
        let model = FittedPipeline(
            pcaMean: wholePCA?.mean, pcaComponents: wholePCA?.components, pcaComponentCount: wholePCA?.componentCount ?? 0,
            coefficients: refit.coefficients ?? [], intercept: refit.intercept ?? [],
            inputCount: refit.inputCount, alphas: refit.alphas)
        return EncodingFitResult(scores: scores, folds: folds, predictions: predictions, predictedRows: predictedRows,
                                 foldAlphas: foldAlphas, model: model)
    }

    static func estimate(_ problem: FitProblem, _ settings: EncodingFitSettings) throws -> FittedReadout {
        switch settings.estimator {
        case .linear: return try LeastSquares.linear(problem)
        case .ridge:
            if let alphas = settings.alphas { return try RidgeLeaveOneOut.fit(problem, alphas: alphas) }
            return try LeastSquares.ridge(problem, alpha: settings.alpha ?? 1)
        case .lasso: return try CoordinateDescent.fit(problem, alpha: settings.alpha ?? 1, l1Ratio: 1)
        case .elasticnet: return try CoordinateDescent.fit(problem, alpha: settings.alpha ?? 1, l1Ratio: settings.l1Ratio ?? 0.5)
        case .pls: return try PLSRegression.fit(problem, components: settings.components ?? 2)
        }
    }

    /// The median of the finite values (NaN when there are none), as `np.nanmedian`.
    public static func median(_ values: [Double]) -> Double { percentile(values, 50) }

    /// NumPy's default (linear) percentile of the finite values, as `np.nanpercentile`.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.filter { $0.isFinite }.sorted()
        guard !sorted.isEmpty else { return .nan }
        let position = q / 100 * Double(sorted.count - 1)
        let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
    }
}
