import BERGCore

/// A feature network that also gives the gradient of a function of its outputs with respect
/// to its input, the weights held fixed.
///
/// `inputGradient` runs x forward to the `outputs` asked for, keeping only what the backward
/// pass needs (ReLU outputs for their masks, the winning taps of max pooling), hands those
/// outputs to `outputGradients`, which returns dL/d(output) for some of them, and runs the
/// backward pass from there to dL/dx.
public protocol InputGradientNetwork: Sendable {
    /// The nodes gradients can start from, in execution order.
    var gradientNodes: [String] { get }
    func inputGradient(_ x: Tensor, outputs: [String],
                       outputGradients: ([String: Tensor]) throws -> [String: Tensor]) throws -> Tensor
}

/// The gradient form of the feature networks that have one (ResNet-18, AlexNet).
public enum InputGradients {
    public static func network(for network: any FeatureNetwork) throws -> any InputGradientNetwork {
        if let resnet = network as? ResNet18 { return try ResNet18Gradient(resnet) }
        if let alexnet = network as? AlexNet { return try AlexNetGradient(alexnet) }
        throw BERGError.invalidInput("input gradients are available for ResNet-18 and AlexNet backbones, not \(type(of: network))")
    }

    /// Checks the requested nodes and returns the position of the last one in `nodes`.
    static func lastNode(_ outputs: [String], in nodes: [String], network: String) throws -> Int {
        guard !outputs.isEmpty else { throw BERGError.invalidInput("\(network): no output nodes requested") }
        var last = 0
        for name in outputs {
            guard let i = nodes.firstIndex(of: name) else {
                throw BERGError.invalidInput("\(network): gradients cannot start from node '\(name)'; they can from: \(nodes.joined(separator: ", "))")
            }
            last = max(last, i)
        }
        return last
    }

    /// `total` plus `part` where both exist.
    static func sum(_ total: Tensor?, _ part: Tensor?) throws -> Tensor? {
        guard let part else { return total }
        guard let total else { return part }
        return try Ops.add(total, part)
    }
}

extension Linear {
    /// dL/dx [rows, in] = dL/dy [rows, out] · W.
    public func inputGradient(_ dy: Tensor) throws -> Tensor {
        guard dy.rank >= 1, dy.shape[dy.rank - 1] == outFeatures else {
            throw BERGError.shapeMismatch(what: "Linear output gradient (…, \(outFeatures))", expected: [-1, outFeatures], actual: dy.shape)
        }
        let rows = dy.count / max(outFeatures, 1)
        var dx = [Float](repeating: 0, count: rows * inFeatures)
        dy.floats.withUnsafeBufferPointer { gp in
            weight.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { xp in
                    GEMM.multiply(.linear, m: rows, n: inFeatures, k: outFeatures, a: gp.baseAddress!, lda: outFeatures,
                                  b: wp.baseAddress!, ldb: inFeatures, c: xp.baseAddress!, ldc: inFeatures,
                                  threads: ComputeThreads.count)
                }
            }
        }
        var shape = dy.shape
        shape[shape.count - 1] = inFeatures
        return try Tensor(shape: shape, floats: dx)
    }
}

/// ResNet-18's input gradient (BatchNorm folded into the convolutions, as in the forward pass).
/// Gradients can start from `relu` onwards; `conv1` and `bn1` come before the stem's fused ReLU.
public struct ResNet18Gradient: InputGradientNetwork {
    let network: ResNet18
    let stem: Conv2dInputGradient
    let blocks: [(conv1: Conv2dInputGradient, conv2: Conv2dInputGradient, downsample: Conv2dInputGradient?)]
    public var gradientNodes: [String] { Array(network.nodeNames.drop { $0 == "conv1" || $0 == "bn1" }) }

    public init(_ network: ResNet18) throws {
        self.network = network
        stem = try Conv2dInputGradient(network.stemFolded)
        blocks = try network.blocks.map { block in
            (try Conv2dInputGradient(block.conv1), try Conv2dInputGradient(block.conv2),
             try block.downsample.map { try Conv2dInputGradient($0) })
        }
    }

    public func inputGradient(_ x: Tensor, outputs: [String],
                              outputGradients: ([String: Tensor]) throws -> [String: Tensor]) throws -> Tensor {
        let nodes = gradientNodes
        let last = try InputGradients.lastNode(outputs, in: nodes, network: "ResNet-18")
        let wanted = Set(outputs)
        var found: [String: Tensor] = [:]
        func reached(_ name: String, _ t: Tensor) -> Bool {
            if wanted.contains(name) { found[name] = t }
            return nodes.firstIndex(of: name)! < last
        }
        // Forward, keeping ReLU outputs and the max-pooling winners.
        let stemOut = try network.stemFolded(x, relu: true)
        var reachedEnd = !reached("relu", stemOut)
        let (pooled, poolIndices) = try Ops.maxPool2dWithIndices(stemOut, kernel: 3, stride: 2, padding: 1)
        if !reachedEnd { reachedEnd = !reached("maxpool", pooled) }
        var kept: [(mid: Tensor, out: Tensor)] = []
        var h = pooled
        for (i, block) in network.blocks.enumerated() where !reachedEnd {
            let mid = try block.conv1(h, relu: true)
            let residual = try block.downsample.map { try $0(h) } ?? h
            h = try block.conv2(mid, relu: true, adding: residual)
            kept.append((mid, h))
            reachedEnd = !reached(block.name, h) || (i % 2 == 1 && !reached("layer\(i / 2 + 1)", h))
        }
        let lastMap = h
        var features: Tensor?
        if !reachedEnd {
            let pooledFeatures = try Ops.adaptiveAvgPool2d(h, output: 1)
            reachedEnd = !reached("avgpool", pooledFeatures)
            if !reachedEnd {
                let flat = try Ops.flatten(pooledFeatures)
                reachedEnd = !reached("flatten", flat)
                features = flat
                if !reachedEnd, let fc = network.fc { _ = reached("fc", try fc(flat)) }
            }
        }
        let given = try outputGradients(found)
        for (name, g) in given {
            guard let output = found[name], output.shape == g.shape else {
                throw BERGError.shapeMismatch(what: "ResNet-18 gradient at \(name)", expected: found[name]?.shape ?? [], actual: g.shape)
            }
        }

        // Backward.
        var flatGradient = given["flatten"]
        if let g = given["fc"], let fc = network.fc { flatGradient = try InputGradients.sum(flatGradient, fc.inputGradient(g)) }
        var pooledGradient = given["avgpool"]
        if let g = flatGradient, let features { pooledGradient = try InputGradients.sum(pooledGradient, g.reshaped([features.shape[0], features.shape[1], 1, 1])) }
        var g: Tensor? = try pooledGradient.map {
            try Ops.adaptiveAvgPool2dGradient($0, inputHeight: lastMap.shape[2], inputWidth: lastMap.shape[3])
        }
        for i in stride(from: kept.count - 1, through: 0, by: -1) {
            let block = network.blocks[i]
            if i % 2 == 1 { g = try InputGradients.sum(g, given["layer\(i / 2 + 1)"]) }
            g = try InputGradients.sum(g, given[block.name])
            guard let outGradient = g else { continue }
            let (mid, out) = kept[i]
            let input = i == 0 ? pooled : kept[i - 1].out
            let z = try Ops.reluGradient(outGradient, output: out)
            let dMid = try Ops.reluGradient(blocks[i].conv2(z, inputHeight: mid.shape[2], inputWidth: mid.shape[3]), output: mid)
            let viaConv = try blocks[i].conv1(dMid, inputHeight: input.shape[2], inputWidth: input.shape[3])
            let viaShortcut = try blocks[i].downsample.map { try $0(z, inputHeight: input.shape[2], inputWidth: input.shape[3]) } ?? z
            g = try Ops.add(viaConv, viaShortcut)
        }
        g = try InputGradients.sum(g, given["maxpool"])
        var stemGradient = try g.map { try Ops.maxPool2dGradient($0, indices: poolIndices) }
        stemGradient = try InputGradients.sum(stemGradient, given["relu"])
        guard let stemGradient else { return try Tensor.zeros(x.shape) }
        return try stem(Ops.reluGradient(stemGradient, output: stemOut), inputHeight: x.shape[2], inputWidth: x.shape[3])
    }
}

/// AlexNet's input gradient, layer by layer in reverse.
public struct AlexNetGradient: InputGradientNetwork {
    let network: AlexNet
    /// The input gradient of each convolution, by layer position.
    let convolutions: [Int: Conv2dInputGradient]
    public var gradientNodes: [String] { network.nodeNames }

    public init(_ network: AlexNet) throws {
        self.network = network
        var convolutions: [Int: Conv2dInputGradient] = [:]
        for (i, entry) in network.layers.enumerated() {
            if case .conv(let conv) = entry.layer { convolutions[i] = try Conv2dInputGradient(conv) }
        }
        self.convolutions = convolutions
    }

    public func inputGradient(_ x: Tensor, outputs: [String],
                              outputGradients: ([String: Tensor]) throws -> [String: Tensor]) throws -> Tensor {
        let layers = network.layers
        let last = try InputGradients.lastNode(outputs, in: network.nodeNames, network: "AlexNet")
        let wanted = Set(outputs)
        // inputs[i] is layer i's input; pools[i] its winners.
        var inputs: [Tensor] = []
        var pools: [Int: MaxPoolIndices] = [:]
        var found: [String: Tensor] = [:]
        var h = x
        for i in 0...last {
            inputs.append(h)
            switch layers[i].layer {
            case .conv(let conv): h = try conv(h)
            case .linear(let linear): h = try linear(h)
            case .relu: h = try Ops.relu(h)
            case .maxPool:
                let (out, indices) = try Ops.maxPool2dWithIndices(h, kernel: 3, stride: 2)
                h = out
                pools[i] = indices
            case .dropout: break
            case .adaptiveAvgPool: h = try Ops.adaptiveAvgPool2d(h, output: 6)
            case .flatten: h = try Ops.flatten(h)
            }
            if wanted.contains(layers[i].name) { found[layers[i].name] = h }
        }
        let given = try outputGradients(found)
        var g: Tensor?
        for i in stride(from: last, through: 0, by: -1) {
            g = try InputGradients.sum(g, given[layers[i].name])
            guard let dy = g else { continue }
            let input = inputs[i]
            switch layers[i].layer {
            case .conv:
                g = try convolutions[i]!(dy, inputHeight: input.shape[2], inputWidth: input.shape[3])
            case .linear(let linear): g = try linear.inputGradient(dy)
            // The ReLU's output is the next layer's input (or the last output).
            case .relu: g = try Ops.reluGradient(dy, output: i + 1 < inputs.count ? inputs[i + 1] : h)
            case .maxPool: g = try Ops.maxPool2dGradient(dy, indices: pools[i]!)
            case .dropout: break
            case .adaptiveAvgPool: g = try Ops.adaptiveAvgPool2dGradient(dy, inputHeight: input.shape[2], inputWidth: input.shape[3])
            case .flatten: g = try dy.reshaped(input.shape)
            }
        }
        return try g ?? Tensor.zeros(x.shape)
    }
}
