import BERGCompute
import BERGCore
import BERGRegistry

/// `feature-linear` models on the ResNet-18 and AlexNet backbones give input gradients (the
/// ViT-B/32 ones do not: its attention has no backward pass here).
extension FeatureLinearEncoder: DifferentiableEncodingModel {
    /// The networks whose models have input gradients.
    public static let differentiableNetworks = ["alexnet", "resnet18"]

    /// Whether a manifest's model gives input gradients (its network is one of
    /// `differentiableNetworks`); read from the settings alone, without the weights.
    public static func hasInputGradients(_ manifest: Manifest) -> Bool {
        guard let settings = try? SettingsDecoder.decode(FeatureLinearSettings.self, from: manifest) else { return false }
        return differentiableNetworks.contains(settings.network)
    }

    /// Every output's units per image, in the order of `outputs` (each flattened in C order,
    /// stacked readouts first): the columns `voxels` index.
    public var responseCount: Int { outputs.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    public var inputSide: Int? { preprocessing.inputSide }

    /// The manifest's resize and crop, then / 255; the normalisation is part of the
    /// differentiated function.
    public func inputImages(_ stimulus: Stimulus) throws -> Tensor {
        try ImageResize.toFloat(preprocessing.resized(stimulus))
    }

    public func responseTarget(voxels: [Int]?) throws -> any ResponseTarget {
        try FeatureLinearTarget(self, voxels: checkedVoxels(voxels))
    }
}

/// The mean over some units of a feature-linear model as a function of the image in [0, 1].
/// Everything after the features is linear except the per-image z-score, so the target is
/// x̃ · g + c with x̃ the scaled features: g (the mean selected readout row, taken back
/// through its PCA) and c are found once, and the backward pass starts at the layers with
/// g / scale, through the z-score's Jacobian when there is one.
struct FeatureLinearTarget: ResponseTarget {
    let network: any FeatureNetwork
    let gradientNetwork: any InputGradientNetwork
    let nodes: [String]
    let preprocessing: Preprocessing
    let zscore: Bool
    /// ∂target/∂(z-scored features): g / scale (g without a scaler).
    let featureWeight: [Double]
    /// target = Σ_k (z_k − m_k) / s_k · g_k + c = Σ_k z_k · featureWeight_k + offset.
    let offset: Double
    let inputSide: Int?
    var preferredBatch: Int { 8 }

    init(_ model: FeatureLinearEncoder, voxels: [Int]) throws {
        guard model.network is AlexNet || model.network is ResNet18 else {
            throw BERGError.invalidArgument(name: "model", value: model.modelID, message: "its network \(type(of: model.network)) has no input gradients; feature-linear models on \(FeatureLinearEncoder.differentiableNetworks.joined(separator: " or ")) have them")
        }
        network = model.network
        gradientNetwork = try InputGradients.network(for: model.network)
        nodes = model.nodes
        for node in nodes where !gradientNetwork.gradientNodes.contains(node) {
            throw BERGError.invalidArgument(name: "model", value: model.modelID, message: "its layer '\(node)' comes before the network's first ReLU, where gradients cannot start; they can from: \(gradientNetwork.gradientNodes.joined(separator: ", "))")
        }
        preprocessing = model.preprocessing
        zscore = model.zscore
        inputSide = model.inputSide

        // Each selected column as (readout, row): outputs in order, stacked readouts first.
        var picked: [(readout: Int, row: Int)] = []
        for output in model.outputs {
            for index in output.readouts {
                for row in 0..<model.readouts[index].units { picked.append((index, row)) }
            }
        }
        let share = 1 / Double(voxels.count)
        // The mean row per readout (in its input space), and the mean intercept.
        var rowMeans: [Int: [Double]] = [:]
        var bias = 0.0
        for v in voxels {
            let (index, row) = picked[v]
            let readout = model.readouts[index]
            let coef = readout.coef.floats(rows: [row])
            var mean = rowMeans[index] ?? [Double](repeating: 0, count: coef.count)
            for j in coef.indices { mean[j] += share * Double(coef[j]) }
            rowMeans[index] = mean
            bias += share * Double(readout.intercept[row])
        }
        // Back through each PCA: g += w · C, and c −= w · (C · mean).
        let features = model.expectedFeatures ?? rowMeans.first(where: { model.readouts[$0.key].projection == nil })?.value.count
        guard let features else {
            throw BERGError.unexpectedContent(path: model.modelID, message: "the number of features per image is unknown")
        }
        var g = [Double](repeating: 0, count: features)
        for (index, w) in rowMeans.sorted(by: { $0.key < $1.key }) {
            guard let p = model.readouts[index].projection else {
                for j in 0..<features { g[j] += w[j] }
                continue
            }
            let projection = model.projections[p]
            for component in 0..<projection.count where w[component] != 0 {
                let row = projection.components.floats(rows: [component])
                var dot = 0.0
                for j in 0..<features {
                    g[j] += w[component] * Double(row[j])
                    if let mean = projection.mean { dot += Double(row[j]) * Double(mean[j]) }
                }
                bias -= w[component] * dot
            }
        }
        // The scaler: x̃ = (z − m) / s.
        if let scaler = model.scaler {
            for j in 0..<features {
                g[j] /= Double(scaler.scale[j])
                bias -= g[j] * Double(scaler.mean[j])
            }
        }
        featureWeight = g
        offset = bias
    }

    /// The layers' outputs per image, concatenated: [n][F] in double.
    func features(_ outputs: [String: Tensor], images n: Int) throws -> [[Double]] {
        var rows = [[Double]](repeating: [], count: n)
        for node in nodes {
            guard let t = outputs[node], t.rank >= 1, t.shape[0] == n else {
                throw BERGError.invalidInput("the backbone gave no output at \(node)")
            }
            let width = t.count / n, values = t.floats
            for i in 0..<n { rows[i] += values[(i * width) ..< ((i + 1) * width)].map(Double.init) }
        }
        guard rows.allSatisfy({ $0.count == featureWeight.count }) else {
            throw BERGError.shapeMismatch(what: "features per image from layers \(nodes.joined(separator: ", "))",
                                          expected: [featureWeight.count], actual: [rows.first?.count ?? 0])
        }
        return rows
    }

    /// Per image: z (z-scored when asked), its std (1 without), and the target.
    func evaluate(_ row: [Double]) -> (z: [Double], std: Double, value: Float) {
        var z = row, std = 1.0
        if zscore {
            let mean = row.reduce(0, +) / Double(row.count)
            std = (row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(row.count)).squareRoot()
            z = row.map { ($0 - mean) / std }
        }
        var value = offset
        for j in z.indices { value += z[j] * featureWeight[j] }
        return (z, std, Float(value))
    }

    func values(_ images: Tensor) throws -> [Float] {
        try checkInput(images)
        let outputs = try network.forward(preprocessing.normalizedFloat(images), outputs: nodes)
        return try features(outputs, images: images.shape[0]).map { evaluate($0).value }
    }

    func valuesAndGradients(_ images: Tensor) throws -> (values: [Float], gradients: Tensor) {
        try checkInput(images)
        let n = images.shape[0]
        var values: [Float] = []
        let dx = try gradientNetwork.inputGradient(preprocessing.normalizedFloat(images), outputs: nodes) { outputs in
            var gradient = [Float](repeating: 0, count: n * featureWeight.count)
            for (i, row) in try features(outputs, images: n).enumerated() {
                let (z, std, value) = evaluate(row)
                values.append(value)
                // z-score backward: (g − mean g − z · mean(g z)) / σ.
                var meanG = 0.0, meanGZ = 0.0
                if zscore {
                    for j in z.indices { meanG += featureWeight[j]; meanGZ += featureWeight[j] * z[j] }
                    meanG /= Double(z.count)
                    meanGZ /= Double(z.count)
                }
                for j in z.indices {
                    gradient[i * z.count + j] = Float((featureWeight[j] - meanG - z[j] * meanGZ) / std)
                }
            }
            // Split back into the layers' shapes.
            var given: [String: Tensor] = [:], offset = 0
            for node in nodes {
                let shape = outputs[node]!.shape, width = outputs[node]!.count / n
                var part = [Float](repeating: 0, count: n * width)
                for i in 0..<n {
                    for j in 0..<width { part[i * width + j] = gradient[i * featureWeight.count + offset + j] }
                }
                given[node] = try Tensor(shape: shape, floats: part)
                offset += width
            }
            return given
        }
        return (values, try preprocessing.normalizationGradient(dx))
    }
}
