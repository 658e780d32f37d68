import BERGCompute
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// The torchvision architectures whose layers `berg features` and the `feature-linear` kind
/// read, with their ImageNet weights and input transform.
public enum TorchvisionNetwork: String, CaseIterable, Sendable, Codable {
    case alexnet
    case resnet18
    case vitB32 = "vit_b_32"

    /// The name the command line and manifests use (`alexnet`, `resnet18`, `vit_b_32`).
    public var name: String { rawValue }

    /// torchvision's IMAGENET1K_V1 weights file; the hex digits after the last `-` start its
    /// SHA-256, which the store checks.
    public var weightsFileName: String {
        switch self {
        case .alexnet: return "alexnet-owt-7be5be79.pth"
        case .resnet18: return "resnet18-f37072fd.pth"
        case .vitB32: return "vit_b_32-d86f8d99.pth"
        }
    }

    public var weightsURL: String { "https://download.pytorch.org/models/" + weightsFileName }

    /// `IMAGENET1K_V1.transforms()` on a uint8 tensor: the shorter side resized to 256
    /// (bilinear, antialiased), a centre crop of 224, / 255, the ImageNet mean and std. The
    /// same for all three networks.
    public var preprocessing: Preprocessing {
        Preprocessing(resize: .torchvisionBilinear, shorterSide: 256, crop: 224,
                      mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    /// The network, built from a torchvision state_dict; `innerModules` keeps what a
    /// ResNet-18 block's inner modules need (BatchNorm not folded away).
    public func network(stateDict: [String: Tensor], innerModules: Bool = true) throws -> any FeatureNetwork {
        switch self {
        case .alexnet: return try AlexNet(stateDict: stateDict)
        case .resnet18: return try ResNet18(stateDict: stateDict, keepingUnfoldedLayers: innerModules)
        case .vitB32: return try VisionTransformer(stateDict: stateDict)
        }
    }

    /// The network named on the command line or in a manifest, or a usage error listing them.
    public static func named(_ name: String) throws -> TorchvisionNetwork {
        guard let network = TorchvisionNetwork(rawValue: name) else {
            throw BERGError.invalidArgument(name: "network", value: name,
                                            message: "unknown network; choose one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return network
    }
}

/// Layer outputs of a torchvision network by PyTorch module name, as forward hooks see them
/// (see `FeatureNetwork+Modules.swift` for what each name gives), with PyTorch's shapes.
///
/// ```swift
/// let extractor = try FeatureExtractor(network: .alexnet, weights: "alexnet-owt-7be5be79.pth",
///                                      layers: ["features.12"])
/// let acts = try extractor.features(stimulus)          // ["features.12": [N, 256, 6, 6]]
/// ```
public struct FeatureExtractor: Sendable {
    public let network: TorchvisionNetwork
    /// The layers asked for, in the order given (duplicates removed).
    public let layers: [String]
    public let backbone: any FeatureNetwork
    /// How images become the network's input (the network's IMAGENET1K_V1 transform unless given).
    public let preprocessing: Preprocessing

    /// Checks the layer names against the network built from `stateDict`; an unknown name is a
    /// usage error that lists the valid ones.
    public init(network: TorchvisionNetwork, stateDict: [String: Tensor], layers: [String],
                preprocessing: Preprocessing? = nil) throws {
        var seen = Set<String>()
        let unique = layers.filter { seen.insert($0).inserted }
        let needsInner = network == .resnet18 && unique.contains { $0.split(separator: ".").count > 2 }
        let backbone = try network.network(stateDict: stateDict, innerModules: needsInner)
        try backbone.checkModules(unique, network: network.rawValue)
        self.network = network
        self.layers = unique
        self.backbone = backbone
        self.preprocessing = preprocessing ?? network.preprocessing
    }

    /// As above, with the weights read from a PyTorch checkpoint (a torchvision state_dict).
    public init(network: TorchvisionNetwork, weights path: String, layers: [String],
                preprocessing: Preprocessing? = nil) throws {
        let stateDict = try TorchCheckpoint(path: path).stateDict()
        try self.init(network: network, stateDict: stateDict, layers: layers, preprocessing: preprocessing)
    }

    /// Each layer's output for a batch of network inputs [N, 3, 224, 224] (already preprocessed).
    public func callAsFunction(_ input: Tensor) throws -> [String: Tensor] {
        try backbone.forward(input, modules: layers)
    }

    /// Each layer's output for a stimulus, preprocessed first.
    public func features(_ stimulus: Stimulus) throws -> [String: Tensor] {
        try self(preprocessing.apply(stimulus))
    }

    /// The layers' outputs flattened per image (C order of PyTorch's tensor) and concatenated in
    /// `layers` order: float32 [N, Σ units], the `feature-linear` kind's input.
    public func flattenedFeatures(_ stimulus: Stimulus) throws -> Tensor {
        let outputs = try features(stimulus)
        let n = stimulus.count
        let widths = layers.map { outputs[$0]!.count / max(n, 1) }
        let total = widths.reduce(0, +)
        var values = [Float](repeating: 0, count: n * total)
        var offset = 0
        for (layer, width) in zip(layers, widths) {
            let v = outputs[layer]!.floats
            for i in 0..<n {
                values.replaceSubrange((i * total + offset) ..< (i * total + offset + width), with: v[(i * width) ..< ((i + 1) * width)])
            }
            offset += width
        }
        return try Tensor(shape: [n, total], floats: values)
    }
}
