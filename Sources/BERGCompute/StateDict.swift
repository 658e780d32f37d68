import BERGCore

/// A network that runs from a torchvision-style state_dict and hands back the outputs of the
/// nodes asked for, named as `torchvision.models.feature_extraction.create_feature_extractor`
/// names them.
public protocol FeatureNetwork: Sendable {
    init(stateDict: [String: Tensor]) throws
    /// The node names `forward` accepts, in execution order.
    var nodeNames: [String] { get }
    func forward(_ x: Tensor, outputs: [String]) throws -> [String: Tensor]
    /// The PyTorch module names (`named_modules()` order, the root left out) whose outputs
    /// `forward(_:modules:)` gives.
    var moduleNames: [String] { get }
    /// The outputs of the named modules as a forward hook sees them, with PyTorch's shapes (see
    /// `FeatureNetwork+Modules.swift`).
    func forward(_ x: Tensor, modules: [String]) throws -> [String: Tensor]
}

/// Typed access to a state_dict: each lookup names the key, and a wrong shape names both shapes.
struct StateDict {
    let tensors: [String: Tensor]
    let network: String

    init(_ tensors: [String: Tensor], network: String) {
        self.tensors = tensors
        self.network = network
    }

    func has(_ key: String) -> Bool { tensors[key] != nil }

    /// The tensor under `key`; `shape` entries of −1 match any size.
    func tensor(_ key: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[key] else {
            throw BERGError.invalidInput("\(network): the state_dict has no key '\(key)'; is this a torchvision \(network) checkpoint?")
        }
        if let shape {
            guard t.rank == shape.count, zip(t.shape, shape).allSatisfy({ $1 < 0 || $0 == $1 }) else {
                throw BERGError.shapeMismatch(what: "\(network) state_dict['\(key)']", expected: shape, actual: t.shape)
            }
        }
        return t
    }

    func conv(_ prefix: String, in inChannels: Int, stride: Size2 = 1, padding: Size2 = 0, bias: Bool = false) throws -> Conv2d {
        let w = try tensor("\(prefix).weight", shape: [-1, inChannels, -1, -1])
        let b = bias ? try tensor("\(prefix).bias", shape: [w.shape[0]]) : nil
        return try Conv2d(weight: w, bias: b, stride: stride, padding: padding)
    }

    func batchNorm(_ prefix: String, channels: Int, eps: Float = 1e-5) throws -> BatchNorm2d {
        try BatchNorm2d(weight: tensor("\(prefix).weight", shape: [channels]), bias: tensor("\(prefix).bias", shape: [channels]),
                        runningMean: tensor("\(prefix).running_mean", shape: [channels]),
                        runningVar: tensor("\(prefix).running_var", shape: [channels]), eps: eps)
    }

    func linear(_ prefix: String, in inFeatures: Int) throws -> Linear {
        let w = try tensor("\(prefix).weight", shape: [-1, inFeatures])
        return try Linear(weight: w, bias: tensor("\(prefix).bias", shape: [w.shape[0]]))
    }

    func layerNorm(_ prefix: String, features: Int, eps: Float) throws -> LayerNorm {
        try LayerNorm(weight: tensor("\(prefix).weight", shape: [features]), bias: tensor("\(prefix).bias", shape: [features]), eps: eps)
    }
}

/// Checks requested node names against a network's list and returns the last one's position.
func lastRequestedNode(_ outputs: [String], in names: [String], network: String) throws -> Int {
    guard !outputs.isEmpty else { throw BERGError.invalidInput("\(network): no output nodes requested; valid nodes: \(names.joined(separator: ", "))") }
    var last = 0
    for o in outputs {
        guard let i = names.firstIndex(of: o) else {
            throw BERGError.invalidInput("\(network): unknown node '\(o)'; valid nodes: \(names.joined(separator: ", "))")
        }
        last = max(last, i)
    }
    return last
}
