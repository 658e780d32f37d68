import BERGCore

/// torchvision AlexNet, eval mode. Every `features.N` output is extractable, as are `avgpool`,
/// `flatten` and `classifier.N` (when the state_dict has the classifier). A ReLU is fused into
/// the convolution or linear layer before it unless that layer's own output is asked for.
/// Channel counts come from the weights, so reduced-width variants load too.
public final class AlexNet: FeatureNetwork, @unchecked Sendable {
    enum Layer {
        case conv(Conv2d)
        case linear(Linear)
        case relu
        case maxPool
        case dropout
        case adaptiveAvgPool
        case flatten
    }

    let layers: [(name: String, layer: Layer)]
    public let nodeNames: [String]

    public required init(stateDict: [String: Tensor]) throws {
        let sd = StateDict(stateDict, network: "AlexNet")
        // torchvision's layout: (index, kernel stride, padding) for each convolution.
        let convs: [(Int, Size2, Size2)] = [(0, 4, 2), (3, 1, 2), (6, 1, 1), (8, 1, 1), (10, 1, 1)]
        var layers: [(String, Layer)] = []
        var channels = 3
        for (index, stride, padding) in convs {
            let conv = try sd.conv("features.\(index)", in: channels, stride: stride, padding: padding, bias: true)
            channels = conv.outChannels
            layers.append(("features.\(index)", .conv(conv)))
            layers.append(("features.\(index + 1)", .relu))
            if index == 0 || index == 3 || index == 10 { layers.append(("features.\(index + 2)", .maxPool)) }
        }
        layers.append(("avgpool", .adaptiveAvgPool))
        layers.append(("flatten", .flatten))
        if sd.has("classifier.1.weight") {
            let fc1 = try sd.linear("classifier.1", in: channels * 36)
            let fc2 = try sd.linear("classifier.4", in: fc1.outFeatures)
            let fc3 = try sd.linear("classifier.6", in: fc2.outFeatures)
            layers += [("classifier.0", .dropout), ("classifier.1", .linear(fc1)), ("classifier.2", .relu),
                       ("classifier.3", .dropout), ("classifier.4", .linear(fc2)), ("classifier.5", .relu),
                       ("classifier.6", .linear(fc3))]
        }
        self.layers = layers
        nodeNames = layers.map { $0.0 }
    }

    /// x: [N, 3, H, W] normalised images.
    public func forward(_ x: Tensor, outputs: [String]) throws -> [String: Tensor] {
        let last = try lastRequestedNode(outputs, in: nodeNames, network: "AlexNet")
        let wanted = Set(outputs)
        var result: [String: Tensor] = [:]
        var h = x
        var i = 0
        while i <= last {
            let (name, layer) = layers[i]
            // Fuse a following ReLU unless this layer's pre-activation output is wanted.
            let fuse = i + 1 < layers.count && { if case .relu = layers[i + 1].layer { return true } else { return false } }() && !wanted.contains(name)
            h = try ComputeProfile.measure(name) {
                switch layer {
                case .conv(let conv): return try conv(h, relu: fuse)
                case .linear(let linear): return try linear(h, activation: fuse ? .relu : .none)
                case .relu: return try Ops.relu(h)
                case .maxPool: return try Ops.maxPool2d(h, kernel: 3, stride: 2)
                case .dropout: return h
                case .adaptiveAvgPool: return try Ops.adaptiveAvgPool2d(h, output: 6)
                case .flatten: return try Ops.flatten(h)
                }
            }
            if wanted.contains(name) { result[name] = h }
            if fuse {
                i += 1
                if wanted.contains(layers[i].name) { result[layers[i].name] = h }
            }
            i += 1
        }
        return result
    }
}
