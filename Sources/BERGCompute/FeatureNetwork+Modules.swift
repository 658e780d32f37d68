import BERGCore

// Layer outputs by PyTorch module name, as a forward hook registered on that module sees them
// (`module.register_forward_hook(lambda m, i, o: store.update({name: o.clone()}))`):
//
// - A module's value is its own output, before anything later changes it in place. AlexNet's
//   `features.0` is the convolution's output before the `ReLU(inplace=True)` that follows it
//   overwrites that tensor; ResNet-18's `bn1` is the BatchNorm output before `relu`.
// - A module that runs twice in one pass keeps its last output: each ResNet block's `relu` is
//   the block's output (after the residual add), as a hook writing into a dict by name keeps.
// - A container's value is its last child's: AlexNet's `features` is `features.12`, ViT's
//   `encoder` is `encoder.ln` (the encoder's own forward ends with it).
// - A module whose output is a tuple gives its first element: ViT's `self_attention` is the
//   attention output [N, tokens, hidden] without the residual.
// - Dropout in eval mode passes its input through.
// - A module that never runs has no value: ViT's `self_attention.out_proj` (MultiheadAttention
//   uses its weights directly), so asking for it is an error that says so.

extension FeatureNetwork {
    /// Modules `named_modules()` lists whose forward never runs, so no hook sees an output.
    public var unrunModules: Set<String> { Set(moduleNames.filter { $0.hasSuffix(".self_attention.out_proj") }) }

    /// Checks module names against `moduleNames`: an unknown name, or one of `unrunModules`, is
    /// a usage error (`invalidArgument`) that names the valid ones.
    public func checkModules(_ modules: [String], network: String) throws {
        let neverRun = unrunModules
        guard !modules.isEmpty else {
            throw BERGError.invalidArgument(name: "layer", value: "", message: "no layer asked for; \(network)'s layers: \(moduleNames.joined(separator: ", "))")
        }
        let known = Set(moduleNames)
        for name in modules where !known.contains(name) || neverRun.contains(name) {
            if neverRun.contains(name) {
                throw BERGError.invalidArgument(
                    name: "layer", value: name,
                    message: "\(network) never calls this module in its forward pass (its weights are used directly by its parent), so a forward hook sees no output; ask for its parent instead")
            }
            throw BERGError.invalidArgument(name: "layer", value: name,
                                            message: "\(network) has no module of that name; its layers (PyTorch module names) are: \(moduleNames.joined(separator: ", "))")
        }
    }
}

extension AlexNet {
    /// features, features.0 … features.12, avgpool, and classifier, classifier.0 … .6 when the
    /// state_dict has the classifier.
    public var moduleNames: [String] {
        var names = ["features"] + (0...12).map { "features.\($0)" } + ["avgpool"]
        if nodeNames.contains("classifier.6") { names += ["classifier"] + (0...6).map { "classifier.\($0)" } }
        return names
    }

    public func forward(_ x: Tensor, modules: [String]) throws -> [String: Tensor] {
        try checkModules(modules, network: "AlexNet")
        // The containers give their last child's output; every other module is a node.
        let containers = ["features": "features.12", "classifier": "classifier.6"]
        let nodes = Array(Set(modules.map { containers[$0] ?? $0 }))
        let outputs = try forward(x, outputs: nodes)
        var result: [String: Tensor] = [:]
        for name in modules { result[name] = outputs[containers[name] ?? name] }
        return result
    }
}
