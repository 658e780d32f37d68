import BERGCompute
import BERGCore
import BERGRegistry

extension FWRFEncoder: DifferentiableEncodingModel {
    public var responseCount: Int { voxelCount }

    /// 227: the manifest's resize.
    public var inputSide: Int? { preprocessing.inputSide }

    /// Square crop and torchvision's uint8 resize to 227 × 227, then / 255 (the network
    /// subtracts its `mu` itself, inside the differentiated function).
    public func inputImages(_ stimulus: Stimulus) throws -> Tensor {
        try ImageResize.toFloat(preprocessing.resized(stimulus))
    }

    public func responseTarget(voxels: [Int]?) throws -> any ResponseTarget {
        let selected = try checkedVoxels(voxels)
        // Each split network predicts its own run of voxels; only the selected ones are read out.
        var parts: [FWRFResponseTarget.Part] = []
        var first = 0
        for network in networks {
            let range = first..<(first + network.readout.voxelCount)
            let local = selected.filter { range.contains($0) }.map { $0 - range.lowerBound }
            if !local.isEmpty {
                parts.append(FWRFResponseTarget.Part(network: network, readout: try network.readout.restricted(to: local),
                                                     gradient: try FWRFNetworkGradient(network)))
            }
            first = range.upperBound
        }
        return FWRFResponseTarget(parts: parts, voxelCount: selected.count, inputSide: inputSide ?? 227)
    }
}

/// The mean fwRF response over some voxels as a function of the 227 × 227 image in [0, 1].
struct FWRFResponseTarget: ResponseTarget {
    struct Part: Sendable {
        let network: FWRFNetwork
        /// The network's readout, cut down to the selected voxels.
        let readout: FWRFReadout
        let gradient: FWRFNetworkGradient
    }

    let parts: [Part]
    let voxelCount: Int
    let inputSide: Int?
    /// Eight images keep the activations, φ blocks and scratch near 100 MB.
    var preferredBatch: Int { 8 }

    func values(_ images: Tensor) throws -> [Float] {
        try checkInput(images)
        var sums = [Float](repeating: 0, count: images.shape[0])
        for part in parts {
            let x = try part.network.normalized(images)
            let y = try part.readout(part.network.activations(x).featureMaps, threads: ComputeThreads.count)
            let v = part.readout.voxelCount
            let values = y.floats
            for b in sums.indices { sums[b] += values[(b * v)..<((b + 1) * v)].reduce(0, +) }
        }
        return sums.map { $0 / Float(voxelCount) }
    }

    func valuesAndGradients(_ images: Tensor) throws -> (values: [Float], gradients: Tensor) {
        try checkInput(images)
        var sums = [Float](repeating: 0, count: images.shape[0])
        var gradient: Tensor?
        for part in parts {
            let activations = try ComputeProfile.measure("gradient: forward") {
                try part.network.activations(part.network.normalized(images), recording: true)
            }
            let (partSums, mapGradients) = try ComputeProfile.measure("gradient: readout") {
                try part.readout.sumsAndGradients(activations.featureMaps)
            }
            for b in sums.indices { sums[b] += partSums[b] }
            let dx = try ComputeProfile.measure("gradient: network backward") { try part.gradient.inputGradient(mapGradients, activations) }
            gradient = try gradient.map { try Ops.add($0, dx) } ?? dx
        }
        let scale = 1 / Float(voxelCount)
        let g = try gradient ?? Tensor.zeros(images.shape)
        return (sums.map { $0 * scale }, try Tensor(shape: g.shape, floats: g.floats.map { $0 * scale }))
    }
}

/// What the fwRF network's forward pass keeps for its input gradient: every ReLU output and
/// the winners of both max poolings.
struct FWRFActivations {
    let inputSize: Size2
    let conv1: Tensor, c1: Tensor, y: Tensor, c3: Tensor
    let c4a: Tensor, c4b: Tensor, c4bPooled: Tensor
    let c5a: Tensor, c5b: Tensor, c6a: Tensor, c6b: Tensor
    let pool1: MaxPoolIndices?, pool2: MaxPoolIndices?

    /// F0 = [c1, y], F1 = [c3, c4a[:64], c4b[:64]], F2 = [c5a[:64], c5b[:64], c6a[:64], c6b].
    var featureMaps: [Tensor] {
        get throws {
            func head(_ t: Tensor) throws -> Tensor { try Ops.slice(t, 0..<64, axis: 1) }
            return [try Ops.concat([c1, y], axis: 1),
                    try Ops.concat([c3, head(c4a), head(c4b)], axis: 1),
                    try Ops.concat([head(c5a), head(c5b), head(c6a), c6b], axis: 1)]
        }
    }
}

extension FWRFNetwork {
    /// The network's input for float images in [0, 1]: x − mu (its uint8 path is x / 255 − mu).
    func normalized(_ images: Tensor) throws -> Tensor {
        try Preprocessing(mean: mean.map(Double.init)).normalizedFloat(images)
    }
}

/// The fwRF network's layers run backwards: each convolution's input gradient (with the
/// BatchNorm before it folded in), the ReLU masks and max-pooling winners from the forward
/// pass, and the channel slices and concatenations of the feature maps.
struct FWRFNetworkGradient: Sendable {
    let conv1: Conv2dInputGradient, conv2: Conv2dInputGradient, conv3: Conv2dInputGradient
    let blocks: [String: Conv2dInputGradient]

    init(_ network: FWRFNetwork) throws {
        conv1 = try Conv2dInputGradient(network.conv1)
        conv2 = try Conv2dInputGradient(network.conv2)
        conv3 = try Conv2dInputGradient(network.conv3, inputScale: network.bn1.scale)
        var blocks: [String: Conv2dInputGradient] = [:]
        for (name, block) in network.blocks { blocks[name] = try Conv2dInputGradient(block.conv, inputScale: block.bn.scale) }
        self.blocks = blocks
    }

    /// ∂L/∂x [n, 3, 227, 227] from ∂L/∂F0, ∂L/∂F1, ∂L/∂F2.
    func inputGradient(_ maps: [Tensor], _ a: FWRFActivations) throws -> Tensor {
        guard maps.count == 3, let pool1 = a.pool1, let pool2 = a.pool2 else {
            throw BERGError.invalidInput("fwRF gradient: needs three feature-map gradients and a recording forward pass")
        }
        func part(_ t: Tensor, _ range: Range<Int>) throws -> Tensor { try Ops.slice(t, range, axis: 1) }
        /// Back through relu(conv(bn(input))) of a trunk block, plus the gradient of its
        /// input's first 64 channels that the feature maps read directly.
        func block(_ name: String, _ g: Tensor, output: Tensor, input: Tensor, head: Tensor?) throws -> Tensor {
            let z = try Ops.reluGradient(g, output: output)
            var d = try blocks[name]!(z, inputHeight: input.shape[2], inputWidth: input.shape[3])
            if let head { try Ops.addChannels(head, into: &d, at: 0) }
            return d
        }
        let (f0, f1, f2) = (maps[0], maps[1], maps[2])
        let dc6a = try block("conv6b", part(f2, 192..<256), output: a.c6b, input: a.c6a, head: part(f2, 128..<192))
        let dc5b = try block("conv6a", dc6a, output: a.c6a, input: a.c5b, head: part(f2, 64..<128))
        let dc5a = try block("conv5b", dc5b, output: a.c5b, input: a.c5a, head: part(f2, 0..<64))
        let dPooled = try block("conv5a", dc5a, output: a.c5a, input: a.c4bPooled, head: nil)
        var dc4b = try Ops.maxPool2dGradient(dPooled, indices: pool2)
        try Ops.addChannels(part(f1, 192..<256), into: &dc4b, at: 0)
        let dc4a = try block("conv4b", dc4b, output: a.c4b, input: a.c4a, head: part(f1, 128..<192))
        var dc3 = try block("conv4a", dc4a, output: a.c4a, input: a.c3, head: nil)
        dc3 = try Ops.add(dc3, part(f1, 0..<128))
        var dy = try conv3(Ops.reluGradient(dc3, output: a.c3), inputHeight: a.y.shape[2], inputWidth: a.y.shape[3])
        dy = try Ops.add(dy, part(f0, 64..<256))
        var dc1 = try conv2(Ops.reluGradient(dy, output: a.y), inputHeight: a.c1.shape[2], inputWidth: a.c1.shape[3])
        dc1 = try Ops.add(dc1, part(f0, 0..<64))
        let dConv1 = try Ops.reluGradient(Ops.maxPool2dGradient(dc1, indices: pool1), output: a.conv1)
        return try conv1(dConv1, inputHeight: a.inputSize.h, inputWidth: a.inputSize.w)
    }
}
