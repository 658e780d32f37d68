import BERGCore

/// torchvision VisionTransformer (ViT-B/32 and reduced variants), eval mode. Sizes come from
/// the state_dict: hidden size and patch from `conv_proj.weight`, image size from
/// `encoder.pos_embedding`, depth from the `encoder.layers.encoder_layer_K` keys. The head
/// count is not in a state_dict: it defaults to hidden / 64 (12 for ViT-B). The MLP's
/// linears may be spelt `mlp.0`/`mlp.3` or, as in the 2022 checkpoints, `mlp.linear_1`/`linear_2`.
///
/// Nodes: conv_proj, encoder.layers.encoder_layer_K.add (after attention) and .add_1 (the
/// block's output, [N, tokens, hidden]), encoder.ln, heads.head (when present).
public final class VisionTransformer: FeatureNetwork, @unchecked Sendable {
    struct Block {
        let ln1: LayerNorm
        let attention: MultiheadSelfAttention
        let ln2: LayerNorm
        let mlp1: Linear
        let mlp2: Linear
    }

    let convProj: Conv2d
    let classToken: [Float]
    let posEmbedding: [Float]
    let blocks: [Block]
    let finalNorm: LayerNorm
    let head: Linear?
    public let hidden: Int
    public let patch: Int
    public let imageSize: Int
    public let heads: Int
    public let nodeNames: [String]

    public required convenience init(stateDict: [String: Tensor]) throws {
        try self.init(stateDict: stateDict, heads: nil)
    }

    public init(stateDict: [String: Tensor], heads: Int?) throws {
        let sd = StateDict(stateDict, network: "VisionTransformer")
        let projWeight = try sd.tensor("conv_proj.weight", shape: [-1, 3, -1, -1])
        hidden = projWeight.shape[0]; patch = projWeight.shape[2]
        guard patch > 0, projWeight.shape[3] == patch else {
            throw BERGError.shapeMismatch(what: "VisionTransformer state_dict['conv_proj.weight'] (square patches)", expected: [hidden, 3, patch, patch], actual: projWeight.shape)
        }
        convProj = try Conv2d(weight: projWeight, bias: sd.tensor("conv_proj.bias", shape: [hidden]), stride: Size2(patch, patch))
        classToken = try sd.tensor("class_token", shape: [1, 1, hidden]).floats
        let pos = try sd.tensor("encoder.pos_embedding", shape: [1, -1, hidden])
        posEmbedding = pos.floats
        let side = Int(Double(pos.shape[1] - 1).squareRoot().rounded())
        guard side * side == pos.shape[1] - 1 else {
            throw BERGError.shapeMismatch(what: "VisionTransformer state_dict['encoder.pos_embedding'] (1 + a square number of patches)", expected: [1, side * side + 1, hidden], actual: pos.shape)
        }
        imageSize = side * patch
        self.heads = heads ?? max(1, hidden / 64)
        var blocks: [Block] = []
        var names = ["conv_proj"]
        while sd.has("encoder.layers.encoder_layer_\(blocks.count).ln_1.weight") {
            let p = "encoder.layers.encoder_layer_\(blocks.count)"
            let attention = try MultiheadSelfAttention(
                inProjWeight: sd.tensor("\(p).self_attention.in_proj_weight", shape: [3 * hidden, hidden]),
                inProjBias: sd.tensor("\(p).self_attention.in_proj_bias", shape: [3 * hidden]),
                outProjWeight: sd.tensor("\(p).self_attention.out_proj.weight", shape: [hidden, hidden]),
                outProjBias: sd.tensor("\(p).self_attention.out_proj.bias", shape: [hidden]), heads: self.heads)
            // torchvision's 2022 checkpoints (vit_b_32-d86f8d99.pth) name the MLP's linears
            // linear_1/linear_2; torchvision renames them to 0/3 on load, and newer files use 0/3.
            let (first, second) = sd.has("\(p).mlp.linear_1.weight") ? ("linear_1", "linear_2") : ("0", "3")
            let mlp1 = try sd.linear("\(p).mlp.\(first)", in: hidden)
            blocks.append(Block(ln1: try sd.layerNorm("\(p).ln_1", features: hidden, eps: 1e-6), attention: attention,
                                ln2: try sd.layerNorm("\(p).ln_2", features: hidden, eps: 1e-6),
                                mlp1: mlp1, mlp2: try sd.linear("\(p).mlp.\(second)", in: mlp1.outFeatures)))
            names += ["\(p).add", "\(p).add_1"]
        }
        guard !blocks.isEmpty else {
            throw BERGError.invalidInput("VisionTransformer: the state_dict has no key 'encoder.layers.encoder_layer_0.ln_1.weight'; is this a torchvision ViT checkpoint?")
        }
        self.blocks = blocks
        finalNorm = try sd.layerNorm("encoder.ln", features: hidden, eps: 1e-6)
        names.append("encoder.ln")
        if sd.has("heads.head.weight") {
            head = try sd.linear("heads.head", in: hidden)
            names.append("heads.head")
        } else {
            head = nil
        }
        nodeNames = names
    }

    /// Patches [N, D, g, g] → tokens [N, 1 + g², D], the class token first, plus the position
    /// embedding (the input of the encoder's first block).
    func tokens(_ patches: Tensor) throws -> Tensor {
        let n = patches.shape[0], d = hidden, s = (imageSize / patch) * (imageSize / patch), t = s + 1
        let pv = patches.floats
        var tokens = [Float](repeating: 0, count: n * t * d)
        for b in 0..<n {
            for j in 0..<d { tokens[b * t * d + j] = classToken[j] + posEmbedding[j] }
            for c in 0..<d {
                let src = b * d * s + c * s
                for k in 0..<s { tokens[b * t * d + (k + 1) * d + c] = pv[src + k] + posEmbedding[(k + 1) * d + c] }
            }
        }
        return try Tensor(shape: [n, t, d], floats: tokens)
    }

    /// x: [N, 3, imageSize, imageSize] normalised images.
    public func forward(_ x: Tensor, outputs: [String]) throws -> [String: Tensor] {
        let last = try lastRequestedNode(outputs, in: nodeNames, network: "VisionTransformer")
        let (n, _, h, w) = try x.nchw("VisionTransformer")
        guard h == imageSize, w == imageSize else {
            throw BERGError.shapeMismatch(what: "VisionTransformer input (this checkpoint's image size)", expected: [n, 3, imageSize, imageSize], actual: x.shape)
        }
        let wanted = Set(outputs)
        var result: [String: Tensor] = [:]
        var step = 0
        func emit(_ name: String, _ t: Tensor) -> Bool {
            if wanted.contains(name) { result[name] = t }
            step += 1
            return step <= last
        }
        let patches = try ComputeProfile.measure("conv_proj") { try convProj(x) }  // [N, D, g, g]
        guard emit("conv_proj", patches) else { return result }
        var hState = try tokens(patches)
        let d = hidden
        for (i, block) in blocks.enumerated() {
            let p = "encoder.layers.encoder_layer_\(i)"
            let normed1 = try ComputeProfile.measure("layernorm") { try block.ln1(hState) }
            hState = try ComputeProfile.measure("attention") { try block.attention(normed1, adding: hState) }
            guard emit("\(p).add", hState) else { return result }
            let normed2 = try ComputeProfile.measure("layernorm") { try block.ln2(hState) }
            let hiddenMLP = try ComputeProfile.measure("mlp.0+gelu") { try block.mlp1(normed2, activation: .gelu) }
            hState = try ComputeProfile.measure("mlp.3") { try block.mlp2(hiddenMLP, adding: hState) }
            guard emit("\(p).add_1", hState) else { return result }
        }
        let normed = try finalNorm(hState)
        guard emit("encoder.ln", normed) else { return result }
        if let head {
            let cls = try Ops.slice(normed, 0..<1, axis: 1).reshaped([n, d])
            _ = emit("heads.head", try head(cls))
        }
        return result
    }
}
