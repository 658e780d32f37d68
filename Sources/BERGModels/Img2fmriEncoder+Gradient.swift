import BERGCompute
import BERGCore
import BERGRegistry

extension Img2fmriEncoder: DifferentiableEncodingModel {
    public var responseCount: Int { readout.voxelCount }

    /// 224: the manifest's size (or the centre crop with `center_crop`).
    public var inputSide: Int? { backbone.preprocessing.inputSide }

    /// Pillow's resize (and centre crop), then / 255; the ImageNet normalisation is part of
    /// the differentiated function.
    public func inputImages(_ stimulus: Stimulus) throws -> Tensor {
        try ImageResize.toFloat(backbone.preprocessing.resized(stimulus))
    }

    public func responseTarget(voxels: [Int]?) throws -> any ResponseTarget {
        try LinearReadoutTarget(backbone: backbone.network, node: "flatten", readout: readout.linear, voxels: checkedVoxels(voxels),
                                preprocessing: backbone.preprocessing, inputSide: inputSide)
    }
}

/// The mean over some outputs of a linear readout of one backbone node, as a function of the
/// image in [0, 1]: mean_v (f · W_v + b_v) = f · mean_v W_v + mean_v b_v, so the gradient at
/// the node is one row, the mean of the selected weight rows.
struct LinearReadoutTarget: ResponseTarget {
    let backbone: any FeatureNetwork
    let gradientNetwork: any InputGradientNetwork
    let node: String
    /// mean_v W_v [features] and mean_v b_v.
    let meanWeight: [Float]
    let meanBias: Float
    let preprocessing: Preprocessing
    let inputSide: Int?
    var preferredBatch: Int { 8 }

    init(backbone: any FeatureNetwork, node: String, readout: Linear, voxels: [Int], preprocessing: Preprocessing, inputSide: Int?) throws {
        self.backbone = backbone
        gradientNetwork = try InputGradients.network(for: backbone)
        self.node = node
        let features = readout.inFeatures
        var weight = [Double](repeating: 0, count: features)
        var bias = 0.0
        for v in voxels {
            for j in 0..<features { weight[j] += Double(readout.weight[v * features + j]) }
            bias += Double(readout.bias?[v] ?? 0)
        }
        let count = Double(voxels.count)
        meanWeight = weight.map { Float($0 / count) }
        meanBias = Float(bias / count)
        self.preprocessing = preprocessing
        self.inputSide = inputSide
    }

    /// f · w̄ + b̄ for features [n, F].
    func readout(_ features: Tensor) throws -> [Float] {
        guard features.rank == 2, features.shape[1] == meanWeight.count else {
            throw BERGError.shapeMismatch(what: "features at \(node)", expected: [-1, meanWeight.count], actual: features.shape)
        }
        let f = features.floats, width = meanWeight.count
        return f.withUnsafeBufferPointer { fp in
            (0..<features.shape[0]).map { b in
                (0..<width).reduce(Float(0)) { $0 + fp[b * width + $1] * meanWeight[$1] } + meanBias
            }
        }
    }

    func values(_ images: Tensor) throws -> [Float] {
        try checkInput(images)
        guard let features = try backbone.forward(preprocessing.normalizedFloat(images), outputs: [node])[node] else {
            throw BERGError.invalidInput("the backbone gave no output at \(node)")
        }
        return try readout(features)
    }

    func valuesAndGradients(_ images: Tensor) throws -> (values: [Float], gradients: Tensor) {
        try checkInput(images)
        var values: [Float] = []
        let dx = try gradientNetwork.inputGradient(preprocessing.normalizedFloat(images), outputs: [node]) { outputs in
            guard let features = outputs[node] else { throw BERGError.invalidInput("the backbone gave no output at \(node)") }
            values = try readout(features)
            let rows = features.shape[0]
            return [node: try Tensor(shape: features.shape, floats: Array((0..<rows).map { _ in meanWeight }.joined()))]
        }
        return (values, try preprocessing.normalizationGradient(dx))
    }
}
