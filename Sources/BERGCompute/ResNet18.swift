import BERGCore

/// torchvision ResNet-18, eval mode, up to global average pooling (and `fc` when the
/// state_dict has it). BatchNorm is folded into each convolution at load time. Channel
/// counts are read from the weights, so reduced-width variants load too.
///
/// Nodes: conv1, bn1, relu, maxpool, layer1.0 … layer4.1, layer1 … layer4, avgpool, flatten, fc.
public final class ResNet18: FeatureNetwork, @unchecked Sendable {
    struct Block {
        let name: String
        let conv1: Conv2d  // BN folded, ReLU fused
        let conv2: Conv2d  // BN folded
        let downsample: Conv2d?  // 1×1 conv with BN folded
        /// The same layers with BatchNorm apart, for the block's inner modules by name.
        let unfolded: UnfoldedBlock?
    }

    struct UnfoldedBlock {
        let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
        let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    }

    let stemConv: Conv2d      // conv1 as is, for the conv1 / bn1 nodes
    let stemBN: BatchNorm2d
    let stemFolded: Conv2d    // conv1 with bn1 folded
    let blocks: [Block]
    let fc: Linear?
    public let nodeNames: [String]
    /// Features at `avgpool` (512 for the full network).
    public let featureCount: Int

    public required convenience init(stateDict: [String: Tensor]) throws {
        try self.init(stateDict: stateDict, keepingUnfoldedLayers: false)
    }

    /// With `keepingUnfoldedLayers`, each block also keeps its convolutions and BatchNorms
    /// apart (twice the weights), so that `forward(_:modules:)` can give its inner modules.
    public init(stateDict: [String: Tensor], keepingUnfoldedLayers: Bool) throws {
        let sd = StateDict(stateDict, network: "ResNet-18")
        stemConv = try sd.conv("conv1", in: 3, stride: 2, padding: 3)
        stemBN = try sd.batchNorm("bn1", channels: stemConv.outChannels)
        var folded = stemConv
        try folded.foldBatchNorm(stemBN)
        stemFolded = folded
        var channels = stemConv.outChannels
        var blocks: [Block] = []
        var names = ["conv1", "bn1", "relu", "maxpool"]
        for layer in 1...4 {
            for index in 0..<2 {
                let p = "layer\(layer).\(index)"
                let stride: Size2 = (layer > 1 && index == 0) ? 2 : 1
                let raw1 = try sd.conv("\(p).conv1", in: channels, stride: stride, padding: 1)
                let bn1 = try sd.batchNorm("\(p).bn1", channels: raw1.outChannels)
                let raw2 = try sd.conv("\(p).conv2", in: raw1.outChannels, padding: 1)
                let bn2 = try sd.batchNorm("\(p).bn2", channels: raw2.outChannels)
                var c1 = raw1, c2 = raw2
                try c1.foldBatchNorm(bn1)
                try c2.foldBatchNorm(bn2)
                var down: Conv2d?
                var rawDown: (conv: Conv2d, bn: BatchNorm2d)?
                if sd.has("\(p).downsample.0.weight") {
                    let d = try sd.conv("\(p).downsample.0", in: channels, stride: stride)
                    let dbn = try sd.batchNorm("\(p).downsample.1", channels: d.outChannels)
                    var folded = d
                    try folded.foldBatchNorm(dbn)
                    down = folded
                    rawDown = (d, dbn)
                } else if stride != 1 || channels != c2.outChannels {
                    throw BERGError.invalidInput("ResNet-18: the state_dict has no key '\(p).downsample.0.weight', which this block needs")
                }
                let unfolded = keepingUnfoldedLayers
                    ? UnfoldedBlock(conv1: raw1, bn1: bn1, conv2: raw2, bn2: bn2, downsample: rawDown) : nil
                blocks.append(Block(name: p, conv1: c1, conv2: c2, downsample: down, unfolded: unfolded))
                channels = c2.outChannels
                names.append(p)
            }
            names.append("layer\(layer)")
        }
        self.blocks = blocks
        featureCount = channels
        names += ["avgpool", "flatten"]
        if sd.has("fc.weight") {
            fc = try sd.linear("fc", in: channels)
            names.append("fc")
        } else {
            fc = nil
        }
        nodeNames = names
    }

    /// x: [N, 3, H, W] normalised images.
    public func forward(_ x: Tensor, outputs: [String]) throws -> [String: Tensor] {
        let last = try lastRequestedNode(outputs, in: nodeNames, network: "ResNet-18")
        let wanted = Set(outputs)
        var result: [String: Tensor] = [:]
        var step = 0
        /// Records `t` under `name` if asked for; false once everything asked for is done.
        func emit(_ name: String, _ t: Tensor) -> Bool {
            if wanted.contains(name) { result[name] = t }
            step += 1
            return step <= last
        }
        var h: Tensor
        if wanted.contains("conv1") || wanted.contains("bn1") {
            let c = try stemConv(x)
            guard emit("conv1", c) else { return result }
            let b = try stemBN(c)
            guard emit("bn1", b) else { return result }
            h = try Ops.relu(b)
        } else {
            h = try ComputeProfile.measure("conv1+bn1+relu") { try stemFolded(x, relu: true) }
            step = 2
        }
        guard emit("relu", h) else { return result }
        h = try ComputeProfile.measure("maxpool") { try Ops.maxPool2d(h, kernel: 3, stride: 2, padding: 1) }
        guard emit("maxpool", h) else { return result }
        for (i, block) in blocks.enumerated() {
            let mid = try ComputeProfile.measure("\(block.name).conv1") { try block.conv1(h, relu: true) }
            let residual = try ComputeProfile.measure("\(block.name).downsample") { try block.downsample.map { try $0(h) } ?? h }
            // The residual add and ReLU ride along in conv2's pass over its GEMM output.
            h = try ComputeProfile.measure("\(block.name).conv2+add+relu") { try block.conv2(mid, relu: true, adding: residual) }
            guard emit(block.name, h) else { return result }
            if i % 2 == 1 { guard emit("layer\(i / 2 + 1)", h) else { return result } }
        }
        h = try Ops.adaptiveAvgPool2d(h, output: 1)
        guard emit("avgpool", h) else { return result }
        h = try Ops.flatten(h)
        guard emit("flatten", h) else { return result }
        if let fc { _ = emit("fc", try fc(h)) }
        return result
    }
}
