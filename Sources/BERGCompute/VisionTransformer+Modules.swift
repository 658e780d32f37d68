import BERGCore

extension VisionTransformer {
    /// torchvision's `named_modules()` of a VisionTransformer: conv_proj, encoder,
    /// encoder.dropout, encoder.layers, per block `encoder.layers.encoder_layer_K` and its
    /// ln_1, self_attention, self_attention.out_proj, dropout, ln_2, mlp, mlp.0 … mlp.4, then
    /// encoder.ln, and heads, heads.head (when present). `self_attention.out_proj` never runs.
    public var moduleNames: [String] {
        var names = ["conv_proj", "encoder", "encoder.dropout", "encoder.layers"]
        for i in blocks.indices {
            let p = "encoder.layers.encoder_layer_\(i)"
            names += [p] + ["ln_1", "self_attention", "self_attention.out_proj", "dropout", "ln_2", "mlp",
                            "mlp.0", "mlp.1", "mlp.2", "mlp.3", "mlp.4"].map { "\(p).\($0)" }
        }
        names.append("encoder.ln")
        if head != nil { names += ["heads", "heads.head"] }
        return names
    }

    /// Module outputs as forward hooks see them: `encoder.dropout` is the tokens plus the
    /// position embedding; a block's `self_attention` and `dropout` are the attention output
    /// and `mlp`, `mlp.3`, `mlp.4` the MLP's, both before the residual add; `mlp.0` is before
    /// the GELU and `mlp.1`, `mlp.2` after it; `encoder.layers` is the last block's output;
    /// `encoder` is `encoder.ln`; `heads` is `heads.head`.
    public func forward(_ x: Tensor, modules: [String]) throws -> [String: Tensor] {
        try checkModules(modules, network: "VisionTransformer")
        let (n, _, h, w) = try x.nchw("VisionTransformer")
        guard h == imageSize, w == imageSize else {
            throw BERGError.shapeMismatch(what: "VisionTransformer input (this checkpoint's image size)", expected: [n, 3, imageSize, imageSize], actual: x.shape)
        }
        let wanted = Set(modules)
        // How far to run: the conv, a block, or the end (encoder.ln, encoder and the head).
        let blockPrefix = "encoder.layers.encoder_layer_"
        func depth(_ name: String) -> Int {
            if name == "conv_proj" || name == "encoder.dropout" { return 0 }
            if name == "encoder.layers" { return blocks.count }
            if name.hasPrefix(blockPrefix) {
                let index = name.dropFirst(blockPrefix.count).prefix { $0.isNumber }
                return Int(index)! + 1
            }
            return blocks.count + 1
        }
        let last = modules.map(depth).max()!
        var result: [String: Tensor] = [:]
        func emit(_ name: String, _ t: Tensor) { if wanted.contains(name) { result[name] = t } }

        let patches = try convProj(x)
        emit("conv_proj", patches)
        var state = try tokens(patches)
        emit("encoder.dropout", state)
        for (i, block) in blocks.enumerated() where i < last {
            let p = "\(blockPrefix)\(i)"
            let normed1 = try block.ln1(state)
            emit("\(p).ln_1", normed1)
            if wanted.contains("\(p).self_attention") || wanted.contains("\(p).dropout") {
                let attention = try block.attention(normed1)
                emit("\(p).self_attention", attention)
                emit("\(p).dropout", attention)
                state = try Ops.add(attention, state)
            } else {
                state = try block.attention(normed1, adding: state)
            }
            let normed2 = try block.ln2(state)
            emit("\(p).ln_2", normed2)
            let mlpNames = ["mlp", "mlp.0", "mlp.1", "mlp.2", "mlp.3", "mlp.4"].map { "\(p).\($0)" }
            if mlpNames.contains(where: wanted.contains) {
                let pre = try block.mlp1(normed2)
                emit("\(p).mlp.0", pre)
                let activated = try Ops.gelu(pre)
                emit("\(p).mlp.1", activated)
                emit("\(p).mlp.2", activated)
                let out = try block.mlp2(activated)
                for name in ["mlp", "mlp.3", "mlp.4"] { emit("\(p).\(name)", out) }
                state = try Ops.add(out, state)
            } else {
                state = try block.mlp2(block.mlp1(normed2, activation: .gelu), adding: state)
            }
            emit(p, state)
            if i == blocks.count - 1 { emit("encoder.layers", state) }
        }
        guard last > blocks.count else { return result }
        let normed = try finalNorm(state)
        emit("encoder.ln", normed)
        emit("encoder", normed)
        if let head, wanted.contains("heads") || wanted.contains("heads.head") {
            let cls = try Ops.slice(normed, 0..<1, axis: 1).reshaped([n, hidden])
            let logits = try head(cls)
            emit("heads.head", logits)
            emit("heads", logits)
        }
        return result
    }
}
