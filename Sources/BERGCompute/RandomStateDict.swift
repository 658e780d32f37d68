import BERGCore

/// Full-size torchvision state_dicts with random weights, for benchmarks (`berg bench`): the
/// same keys and shapes as the published checkpoints, values scaled so activations stay O(1).
public enum RandomStateDict {
    /// ResNet-18 (11.7 M parameters, with `fc`).
    public static func resnet18(seed: UInt64 = 1) throws -> [String: Tensor] {
        var g = Generator(seed: seed)
        var sd: [String: Tensor] = [:]
        func conv(_ key: String, _ o: Int, _ i: Int, _ k: Int) throws { sd[key + ".weight"] = try g.weights([o, i, k, k]) }
        func bn(_ key: String, _ c: Int) throws {
            sd[key + ".weight"] = try g.around(1, [c]); sd[key + ".bias"] = try g.around(0, [c])
            sd[key + ".running_mean"] = try g.around(0, [c]); sd[key + ".running_var"] = try g.around(1, [c])
        }
        try conv("conv1", 64, 3, 7); try bn("bn1", 64)
        var inC = 64
        for (layer, c) in [(1, 64), (2, 128), (3, 256), (4, 512)] {
            for b in 0..<2 {
                let p = "layer\(layer).\(b)"
                try conv("\(p).conv1", c, b == 0 ? inC : c, 3); try bn("\(p).bn1", c)
                try conv("\(p).conv2", c, c, 3); try bn("\(p).bn2", c)
                if b == 0 && layer > 1 { try conv("\(p).downsample.0", c, inC, 1); try bn("\(p).downsample.1", c) }
            }
            inC = c
        }
        sd["fc.weight"] = try g.weights([1000, 512]); sd["fc.bias"] = try g.around(0, [1000])
        return sd
    }

    /// AlexNet (61 M parameters, with the classifier).
    public static func alexnet(seed: UInt64 = 2) throws -> [String: Tensor] {
        var g = Generator(seed: seed)
        var sd: [String: Tensor] = [:]
        for (i, o, inC, k) in [(0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3), (8, 256, 384, 3), (10, 256, 256, 3)] {
            sd["features.\(i).weight"] = try g.weights([o, inC, k, k]); sd["features.\(i).bias"] = try g.around(0, [o])
        }
        for (i, o, inF) in [(1, 4096, 9216), (4, 4096, 4096), (6, 1000, 4096)] {
            sd["classifier.\(i).weight"] = try g.weights([o, inF]); sd["classifier.\(i).bias"] = try g.around(0, [o])
        }
        return sd
    }

    /// ViT-B/32 (88 M parameters): 12 layers, hidden 768, MLP 3072, image 224.
    public static func vitB32(seed: UInt64 = 3) throws -> [String: Tensor] {
        var g = Generator(seed: seed)
        let d = 768, mlp = 3072
        var sd: [String: Tensor] = [:]
        sd["conv_proj.weight"] = try g.weights([d, 3, 32, 32]); sd["conv_proj.bias"] = try g.around(0, [d])
        sd["class_token"] = try g.around(0, [1, 1, d]); sd["encoder.pos_embedding"] = try g.around(0, [1, 50, d])
        for l in 0..<12 {
            let p = "encoder.layers.encoder_layer_\(l)"
            for ln in ["ln_1", "ln_2"] { sd["\(p).\(ln).weight"] = try g.around(1, [d]); sd["\(p).\(ln).bias"] = try g.around(0, [d]) }
            sd["\(p).self_attention.in_proj_weight"] = try g.weights([3 * d, d]); sd["\(p).self_attention.in_proj_bias"] = try g.around(0, [3 * d])
            sd["\(p).self_attention.out_proj.weight"] = try g.weights([d, d]); sd["\(p).self_attention.out_proj.bias"] = try g.around(0, [d])
            sd["\(p).mlp.0.weight"] = try g.weights([mlp, d]); sd["\(p).mlp.0.bias"] = try g.around(0, [mlp])
            sd["\(p).mlp.3.weight"] = try g.weights([d, mlp]); sd["\(p).mlp.3.bias"] = try g.around(0, [d])
        }
        sd["encoder.ln.weight"] = try g.around(1, [d]); sd["encoder.ln.bias"] = try g.around(0, [d])
        sd["heads.head.weight"] = try g.weights([1000, d]); sd["heads.head.bias"] = try g.around(0, [1000])
        return sd
    }

    /// Random floats from a seeded xorshift generator (reproducible without Foundation).
    public struct Generator {
        var state: UInt64
        public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

        /// Uniform in [−1, 1).
        public mutating func next() -> Float {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) / Float(1 << 23) - 1
        }

        /// Uniform weights with variance 2 / fan-in (He scaling; fan-in is the product of all
        /// dimensions but the first).
        public mutating func weights(_ shape: [Int]) throws -> Tensor {
            let fanIn = shape.dropFirst().reduce(1, *)
            let scale = (6 / Float(max(fanIn, 1))).squareRoot()
            return try Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in next() * scale })
        }

        /// centre ± 0.1.
        public mutating func around(_ centre: Float, _ shape: [Int]) throws -> Tensor {
            try Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in centre + 0.1 * next() })
        }

        /// A float tensor uniform in [−1, 1).
        public mutating func uniform(_ shape: [Int]) throws -> Tensor {
            try Tensor(shape: shape, floats: (0..<Tensor.count(of: shape)).map { _ in next() })
        }
    }
}
