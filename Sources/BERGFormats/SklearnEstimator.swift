import BERGCore
import BERGCompute
import Foundation

/// A fitted scikit-learn estimator rebuilt from its pickled state (never by running the
/// pickle), or from the dict of fitted attributes BERG saves instead (`scaler_param`,
/// `pca_param`, `lh_reg_param`, ...). Each case can predict or transform in Float32.
public enum SklearnEstimator: Sendable {
    case ridge(LinearModel)
    case linearRegression(LinearModel)
    case lasso(LinearModel)
    case multiTaskLasso(LinearModel)
    case elasticNet(LinearModel)
    case pca(PCAModel)
    case incrementalPCA(PCAModel)
    case standardScaler(StandardScalerModel)

    /// The estimator kinds, named as scikit-learn names their classes.
    public enum Kind: String, Sendable, CaseIterable {
        case ridge = "Ridge"
        case linearRegression = "LinearRegression"
        case lasso = "Lasso"
        case multiTaskLasso = "MultiTaskLasso"
        case elasticNet = "ElasticNet"
        case pca = "PCA"
        case incrementalPCA = "IncrementalPCA"
        case standardScaler = "StandardScaler"

        /// Cross-validated variants store the same fitted attributes.
        init?(className: String) {
            switch className {
            case "RidgeCV": self = .ridge
            case "LassoCV": self = .lasso
            case "MultiTaskLassoCV": self = .multiTaskLasso
            case "ElasticNetCV": self = .elasticNet
            default: self.init(rawValue: className)
            }
        }
    }

    /// Reads a pickled estimator (`pickle.dump(model, f)`, as img2fmri ships its Ridge models).
    public static func load(_ path: String) throws -> SklearnEstimator {
        let value = try PickleMachine.load(try NPYFile.readFile(path), path: path)
        return try SklearnEstimator(pickled: value, path: path)
    }

    /// An estimator from an unpickled instance: an inert object of a known class whose state
    /// holds the fitted attributes.
    public init(pickled value: PickleValue, path: String) throws {
        guard case .object(let object) = value else {
            throw BERGError.unexpectedContent(path: path, message: "expected a pickled scikit-learn estimator, found \(value.kindName)")
        }
        guard object.module.hasPrefix("sklearn."), let kind = Kind(className: object.name) else {
            throw BERGError.unsupported("\(path): \(object.className) is not a supported estimator (supported: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let attributes = object.attributes else {
            throw BERGError.unexpectedContent(path: path, message: "\(object.className) has no fitted state")
        }
        try self.init(parameters: .dict(attributes), kind: kind, path: path)
    }

    /// An estimator from a dict of fitted attributes (`coef_`, `intercept_`, `components_`, ...).
    public init(parameters: PickleValue, kind: Kind, path: String) throws {
        let p = Parameters(value: parameters, path: path, kind: kind)
        switch kind {
        case .ridge: self = .ridge(try LinearModel(p))
        case .linearRegression: self = .linearRegression(try LinearModel(p))
        case .lasso: self = .lasso(try LinearModel(p))
        case .multiTaskLasso: self = .multiTaskLasso(try LinearModel(p))
        case .elasticNet: self = .elasticNet(try LinearModel(p))
        case .pca: self = .pca(try PCAModel(p))
        case .incrementalPCA: self = .incrementalPCA(try PCAModel(p))
        case .standardScaler: self = .standardScaler(try StandardScalerModel(p))
        }
    }

    /// The estimators in BERG's weights dict: `scaler_param` → StandardScaler, `pca_param` →
    /// PCA, every `*reg_param` → LinearRegression. Nested groups (`reg_param` → `rep-1`, ...)
    /// are named with a slash: `reg_param/rep-1`.
    public static func bergWeights(_ weights: PickleValue, path: String) throws -> [String: SklearnEstimator] {
        guard let entries = weights.dictionary else {
            throw BERGError.unexpectedContent(path: path, message: "expected BERG's weights dict, found \(weights.kindName)")
        }
        var out: [String: SklearnEstimator] = [:]
        for (key, value) in entries {
            guard let name = key.string else { continue }
            let kind: Kind?
            if name.hasPrefix("scaler") { kind = .standardScaler }
            else if name.hasPrefix("pca") { kind = .pca }
            else if name.hasSuffix("reg_param") { kind = .linearRegression }
            else { kind = nil }
            guard let kind else { continue }
            if value["coef_"] == nil && value["mean_"] == nil, let groups = value.dictionary {
                for (subKey, subValue) in groups {
                    let subName = subKey.string ?? subKey.shortDescription
                    out["\(name)/\(subName)"] = try SklearnEstimator(parameters: subValue, kind: kind, path: "\(path) [\(name)/\(subName)]")
                }
            } else {
                out[name] = try SklearnEstimator(parameters: value, kind: kind, path: "\(path) [\(name)]")
            }
        }
        return out
    }

    public var kind: Kind {
        switch self {
        case .ridge: return .ridge
        case .linearRegression: return .linearRegression
        case .lasso: return .lasso
        case .multiTaskLasso: return .multiTaskLasso
        case .elasticNet: return .elasticNet
        case .pca: return .pca
        case .incrementalPCA: return .incrementalPCA
        case .standardScaler: return .standardScaler
        }
    }

    /// Features the estimator takes per row.
    public var inputWidth: Int {
        switch self {
        case .ridge(let m), .linearRegression(let m), .lasso(let m), .multiTaskLasso(let m), .elasticNet(let m): return m.features
        case .pca(let m), .incrementalPCA(let m): return m.features
        case .standardScaler(let m): return m.features
        }
    }

    /// Values the estimator gives per row.
    public var outputWidth: Int {
        switch self {
        case .ridge(let m), .linearRegression(let m), .lasso(let m), .multiTaskLasso(let m), .elasticNet(let m): return m.targets
        case .pca(let m), .incrementalPCA(let m): return m.components
        case .standardScaler(let m): return m.features
        }
    }

    /// `predict` for regressions, `transform` for PCA and the scaler: `rows × inputWidth` in,
    /// `rows × outputWidth` out, row-major.
    public func apply(_ x: [Float], rows: Int) throws -> [Float] {
        switch self {
        case .ridge(let m), .linearRegression(let m), .lasso(let m), .multiTaskLasso(let m), .elasticNet(let m):
            return try m.predict(x, rows: rows)
        case .pca(let m), .incrementalPCA(let m): return try m.transform(x, rows: rows)
        case .standardScaler(let m): return try m.transform(x, rows: rows)
        }
    }
}

/// Fitted attributes by name, with errors that name the estimator and attribute.
struct Parameters {
    let value: PickleValue
    let path: String
    let kind: SklearnEstimator.Kind

    func tensor(_ name: String) throws -> Tensor {
        guard let v = value[name] else {
            throw BERGError.unexpectedContent(path: path, message: "\(kind.rawValue) has no '\(name)'; is the estimator fitted?")
        }
        return try v.requireTensor("\(kind.rawValue).\(name)", path: path)
    }

    func optionalTensor(_ name: String) throws -> Tensor? {
        guard let v = value[name] else { return nil }
        if case .none = v { return nil }
        if case .tensor(let t) = v { return t }
        if let d = v.double { return try Tensor(shape: [], doubles: [d]) }
        throw BERGError.unexpectedContent(path: path, message: "\(kind.rawValue).\(name) is \(v.kindName), not a number or array")
    }

    func bool(_ name: String, default fallback: Bool) -> Bool { value[name]?.bool ?? fallback }
    func double(_ name: String) -> Double? { value[name]?.double }
}

private func checkInput(_ x: [Float], rows: Int, features: Int, what: String) throws {
    guard rows >= 0, x.count == rows * features else {
        throw BERGError.shapeMismatch(what: "\(what) input", expected: [rows, features], actual: [x.count])
    }
}

/// A linear regression `y = x · coefᵀ + intercept` (Ridge, LinearRegression, Lasso, ...).
public struct LinearModel: Sendable {
    /// `[targets, features]`, Float32.
    public var coef: Tensor
    public var intercept: [Float]
    /// The regularisation strength, where the estimator has one.
    public var alpha: Double?
    /// True when the estimator was fitted on a 1-d target (`coef_` of shape `[features]`).
    public var singleTarget: Bool

    public var targets: Int { coef.shape[0] }
    public var features: Int { coef.shape[1] }

    public init(coef: Tensor, intercept: [Float], alpha: Double? = nil) throws {
        guard coef.rank == 2, intercept.count == coef.shape[0] else {
            throw BERGError.shapeMismatch(what: "linear model intercept", expected: [coef.shape.first ?? 0], actual: [intercept.count])
        }
        self.coef = coef.asFloat32
        self.intercept = intercept
        self.alpha = alpha
        self.singleTarget = false
    }

    init(_ p: Parameters) throws {
        var coef = try p.tensor("coef_")
        let single = coef.rank == 1
        if single { coef = try coef.reshaped([1, coef.count]) }
        guard coef.rank == 2 else {
            throw BERGError.unexpectedContent(path: p.path, message: "\(p.kind.rawValue).coef_ has shape \(coef.shape); expected [targets, features]")
        }
        var intercept = [Float](repeating: 0, count: coef.shape[0])
        if let i = try p.optionalTensor("intercept_") {
            if i.count == 1 { intercept = [Float](repeating: i.floats[0], count: coef.shape[0]) }
            else if i.count == coef.shape[0] { intercept = i.floats }
            else { throw BERGError.shapeMismatch(what: "\(p.path): \(p.kind.rawValue).intercept_", expected: [coef.shape[0]], actual: i.shape) }
        }
        try self.init(coef: coef, intercept: intercept, alpha: p.double("alpha"))
        singleTarget = single
    }

    /// `rows × features` in, `rows × targets` out (Float32, BLAS).
    public func predict(_ x: [Float], rows: Int) throws -> [Float] {
        try checkInput(x, rows: rows, features: features, what: "linear model")
        var y = [Float](repeating: 0, count: rows * targets)
        for r in 0..<rows { y.replaceSubrange(r * targets ..< (r + 1) * targets, with: intercept) }
        guard rows > 0, targets > 0, features > 0 else { return y }
        multiplyTransposed(x, rows: rows, by: coef.floats, outputs: targets, features: features, adding: true, into: &y)
        return y
    }
}

/// PCA and IncrementalPCA: `(x − mean) · componentsᵀ`, divided by √explained_variance when whitened.
public struct PCAModel: Sendable {
    /// `[components, features]`, Float32.
    public var componentsMatrix: Tensor
    public var mean: [Float]
    public var explainedVariance: [Float]?
    public var whiten: Bool

    public var components: Int { componentsMatrix.shape[0] }
    public var features: Int { componentsMatrix.shape[1] }

    init(_ p: Parameters) throws {
        let c = try p.tensor("components_")
        guard c.rank == 2 else {
            throw BERGError.unexpectedContent(path: p.path, message: "\(p.kind.rawValue).components_ has shape \(c.shape); expected [components, features]")
        }
        componentsMatrix = c.asFloat32
        mean = try p.optionalTensor("mean_")?.floats ?? [Float](repeating: 0, count: c.shape[1])
        guard mean.count == c.shape[1] else {
            throw BERGError.shapeMismatch(what: "\(p.path): \(p.kind.rawValue).mean_", expected: [c.shape[1]], actual: [mean.count])
        }
        explainedVariance = try p.optionalTensor("explained_variance_")?.floats
        whiten = p.bool("whiten", default: false)
        if whiten {
            guard explainedVariance?.count == c.shape[0] else {
                throw BERGError.unexpectedContent(path: p.path, message: "whitened \(p.kind.rawValue) needs explained_variance_ of \(c.shape[0]) values")
            }
        }
    }

    public func transform(_ x: [Float], rows: Int) throws -> [Float] {
        try checkInput(x, rows: rows, features: features, what: "PCA")
        var centred = x
        centred.withUnsafeMutableBufferPointer { c in
            for r in 0..<rows { for f in 0..<features { c[r * features + f] -= mean[f] } }
        }
        var y = [Float](repeating: 0, count: rows * components)
        if rows > 0, components > 0, features > 0 {
            multiplyTransposed(centred, rows: rows, by: componentsMatrix.floats, outputs: components, features: features,
                               adding: false, into: &y)
        }
        if whiten, let variance = explainedVariance {
            let scale = variance.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
            for r in 0..<rows { for k in 0..<components { y[r * components + k] *= scale[k] } }
        }
        return y
    }
}

/// StandardScaler: `(x − mean) / scale`, each part skipped where the scaler was fitted without it.
public struct StandardScalerModel: Sendable {
    public var mean: [Float]?
    public var scale: [Float]?
    public var features: Int

    init(_ p: Parameters) throws {
        mean = p.bool("with_mean", default: true) ? try p.optionalTensor("mean_")?.floats : nil
        scale = p.bool("with_std", default: true) ? try p.optionalTensor("scale_")?.floats : nil
        guard let n = mean?.count ?? scale?.count ?? p.value["n_features_in_"]?.int else {
            throw BERGError.unexpectedContent(path: p.path, message: "StandardScaler has neither mean_ nor scale_; is it fitted?")
        }
        features = n
        if let mean, mean.count != n { throw BERGError.shapeMismatch(what: "\(p.path): StandardScaler.mean_", expected: [n], actual: [mean.count]) }
        if let scale, scale.count != n { throw BERGError.shapeMismatch(what: "\(p.path): StandardScaler.scale_", expected: [n], actual: [scale.count]) }
    }

    public func transform(_ x: [Float], rows: Int) throws -> [Float] {
        try checkInput(x, rows: rows, features: features, what: "StandardScaler")
        var y = x
        y.withUnsafeMutableBufferPointer { yp in
            for r in 0..<rows {
                for f in 0..<features {
                    var v = yp[r * features + f]
                    if let mean { v -= mean[f] }
                    if let scale, scale[f] != 0 { v /= scale[f] }
                    yp[r * features + f] = v
                }
            }
        }
        return y
    }
}

/// y[rows × outputs] = x[rows × features] · wᵀ (w is [outputs × features]), added to y's
/// contents when `adding` (the intercepts a linear model starts from).
private func multiplyTransposed(_ x: [Float], rows: Int, by w: [Float], outputs: Int, features: Int, adding: Bool,
                        into y: inout [Float]) {
    x.withUnsafeBufferPointer { xp in
        w.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                GEMM.multiply(.estimator, m: rows, n: outputs, k: features, a: xp.baseAddress!, lda: features,
                              b: wp.baseAddress!, ldb: features, transposeB: true, beta: adding ? 1 : 0,
                              c: yp.baseAddress!, ldc: outputs, threads: ComputeThreads.count)
            }
        }
    }
}
