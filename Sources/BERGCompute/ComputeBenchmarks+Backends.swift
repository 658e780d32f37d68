import BERGCore
import Foundation

extension ComputeBenchmarks {
    /// One op class on one shape of the networks, timed with each implementation available.
    public struct Comparison: Sendable {
        public let opClass: GEMMOpClass
        /// Which layer, and its size.
        public let shape: String
        /// GFLOP/s (2 × multiply-adds of the direct computation per second, so Winograd's can
        /// exceed the sgemm peak), or images/s for im2col alone.
        public let unit: String
        /// (implementation, rate), in the order measured.
        public let rates: [(implementation: String, rate: Double)]
        /// The implementation the engine uses for this op class here.
        public let used: String
    }

    /// The implementations compared for GEMMs.
    static var gemmImplementations: [(String, GEMMBackend)] {
        GEMMBackend.available.map { ("\($0) sgemm", $0) }
    }

    /// Times every op class on the shapes of ResNet-18, AlexNet, ViT-B/32 and fwRF (batch
    /// `batch`, the current thread count) with each backend, then with oneDNN's convolutions.
    public static func compareBackends(batch: Int = 64, repeats: Int = 3) throws -> [Comparison] {
        var rows: [Comparison] = []
        for gemm in gemmShapes(batch: batch) {
            var rates: [(String, Double)] = []
            for (name, backend) in gemmImplementations {
                rates.append((name, try gemm.rate(backend, repeats: repeats)))
            }
            rows.append(Comparison(opClass: gemm.opClass, shape: gemm.label, unit: "GFLOP/s", rates: rates,
                                   used: implementation(of: gemm.opClass)))
        }
        for layer in convolutionShapes {
            rows.append(try layer.compare(batch: batch, repeats: repeats))
        }
        for layer in convolutionShapes where !layer.winograd {
            rows.append(try layer.im2colAlone(batch: batch, repeats: repeats))
        }
        return rows
    }

    /// A GEMM as an op runs it: `calls` products of m×n×k, either one at a time split across
    /// the threads (`split`), or spread over the workers, each single-threaded.
    struct GEMMShape {
        let opClass: GEMMOpClass
        let label: String
        let m: Int, n: Int, k: Int
        let transposeB: Bool
        let calls: Int
        let split: Bool

        func rate(_ backend: GEMMBackend, repeats: Int) throws -> Double {
            var g = RandomStateDict.Generator(seed: 16)
            let a = try g.uniform([m * k]).floats, b = try g.uniform([n * k]).floats
            let workers = split ? 1 : Parallel.workers(for: calls)
            var c = [Float](repeating: 0, count: workers * m * n)
            let (m, n, k, transposeB, calls, split) = (self.m, self.n, self.k, self.transposeB, self.calls, self.split)
            let seconds = a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        let out = SendablePointer(cp.baseAddress!)
                        return bestTime(repeats: repeats) {
                            if split {
                                for _ in 0..<calls {
                                    GEMM.multiply(opClass, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!,
                                                  ldb: transposeB ? k : n, transposeB: transposeB, c: out.p, ldc: n,
                                                  threads: ComputeThreads.count, backend: backend)
                                }
                            } else {
                                Parallel.forEach(calls, workers: workers) { _, worker in
                                    GEMM.multiply(opClass, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!,
                                                  ldb: transposeB ? k : n, transposeB: transposeB, c: out.p + worker * m * n,
                                                  ldc: n, backend: backend)
                                }
                            }
                        }
                    }
                }
            }
            return 2 * Double(m) * Double(n) * Double(k) * Double(calls) / seconds / 1e9
        }
    }

    /// The GEMMs of the networks at `batch` images (attention: ViT-B/32's 12 heads).
    static func gemmShapes(batch: Int) -> [GEMMShape] {
        let tokens = batch * 50
        return [
            GEMMShape(opClass: .linear, label: "ViT-B/32 mlp.0: \(tokens)×3072×768", m: tokens, n: 3072, k: 768,
                      transposeB: true, calls: 1, split: true),
            GEMMShape(opClass: .linear, label: "ViT-B/32 out_proj: \(tokens)×768×768", m: tokens, n: 768, k: 768,
                      transposeB: true, calls: 1, split: true),
            GEMMShape(opClass: .linear, label: "AlexNet classifier.1: \(batch)×4096×9216", m: batch, n: 4096, k: 9216,
                      transposeB: true, calls: 1, split: true),
            GEMMShape(opClass: .attention, label: "ViT-B/32 Q·Kᵀ: \(batch * 12)× 50×50×64", m: 50, n: 50, k: 64,
                      transposeB: true, calls: batch * 12, split: false),
            GEMMShape(opClass: .attention, label: "ViT-B/32 softmax·V: \(batch * 12)× 50×64×50", m: 50, n: 64, k: 50,
                      transposeB: false, calls: batch * 12, split: false),
            GEMMShape(opClass: .fwrfReadout, label: "fwRF V1 readout: 12× 338×1024×729", m: 338, n: 1024, k: 729,
                      transposeB: true, calls: 12, split: false),
            GEMMShape(opClass: .winograd, label: "ResNet-18 layer1 Winograd GEMMs: 1024× 64×784×64", m: 64, n: 784, k: 64,
                      transposeB: false, calls: 16 * batch, split: false),
            GEMMShape(opClass: .winograd, label: "AlexNet conv4 Winograd GEMMs: 112× 256×490×384", m: 256, n: 490, k: 384,
                      transposeB: false, calls: 16 * ((batch + 9) / 10), split: false),
            GEMMShape(opClass: .convolution, label: "AlexNet conv2 im2col GEMM: \(batch / 2)× 192×1458×1600", m: 192, n: 1458,
                      k: 1600, transposeB: false, calls: batch / 2, split: false),
            GEMMShape(opClass: .estimator, label: "PCA of ViT features (a tenth): \(batch)×250×46080", m: batch, n: 250, k: 46080,
                      transposeB: true, calls: 1, split: true),
        ]
    }

    /// A convolution layer of the networks.
    struct ConvolutionShape {
        let label: String
        let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, side: Int
        var winograd: Bool { kernel == 3 && stride == 1 && inChannels >= 32 && outChannels >= 32 }

        /// The layer with random weights, and a random input of `batch` images.
        func layer(batch: Int) throws -> (Conv2d, Tensor) {
            var g = RandomStateDict.Generator(seed: 17)
            let conv = try Conv2d(weight: g.weights([outChannels, inChannels, kernel, kernel]), bias: g.uniform([outChannels]),
                                  stride: Size2(stride, stride), padding: Size2(padding, padding))
            return (conv, try g.uniform([batch, inChannels, side, side]))
        }

        var flopPerImage: Double {
            let out = (side + 2 * padding - kernel) / stride + 1
            return 2 * Double(outChannels * inChannels * kernel * kernel * out * out)
        }

        func compare(batch: Int, repeats: Int) throws -> Comparison {
            let (conv, x) = try layer(batch: batch)
            let own: Conv2d.Implementation = winograd ? .winograd : .im2col
            let ownName = winograd ? "Winograd F(2×2, 3×3)" : "im2col"
            var rates: [(String, Double)] = []
            func time(_ body: () throws -> Void) throws -> Double {
                flopPerImage * Double(batch) / (try bestTime(repeats: repeats, body)) / 1e9
            }
            for (name, backend) in gemmImplementations {
                rates.append(("\(ownName) + \(name)", try GEMM.withBackend(backend) { try time { _ = try conv.run(x, relu: true, adding: nil, using: own) } }))
            }
            if conv.oneDNNConvolution != nil {
                rates.append((winograd ? "oneDNN Winograd convolution" : "oneDNN direct convolution",
                              try time { _ = try conv.run(x, relu: true, adding: nil, using: .oneDNN) }))
                if winograd, let direct = OneDNNConvolution(weight: conv.weight, bias: conv.bias, outChannels: outChannels,
                                                            inChannels: inChannels, kernel: Size2(kernel, kernel),
                                                            stride: Size2(stride, stride), padding: Size2(padding, padding),
                                                            dilation: 1, allowWinograd: false) {
                    let o = conv.outputSize(h: side, w: side)
                    var out = [Float](repeating: 0, count: batch * outChannels * o.h * o.w)
                    let input = x.floats
                    rates.append(("oneDNN direct convolution", try time {
                        try input.withUnsafeBufferPointer { ip in
                            try out.withUnsafeMutableBufferPointer { op in
                                try direct.run(ip.baseAddress!, n: batch, h: side, w: side, out: o, residual: nil, relu: true,
                                               into: op.baseAddress!)
                            }
                        }
                    }))
                }
            }
            let picked = (try? conv.oneDNNConvolution?.implementation(h: side, w: side, out: conv.outputSize(h: side, w: side)))
                .map { "; oneDNN picks \($0)" } ?? ""
            return Comparison(opClass: winograd ? .winograd : .convolution,
                              shape: "\(label): \(inChannels)→\(outChannels), \(kernel)×\(kernel)/\(stride), \(side)²\(picked)",
                              unit: "GFLOP/s", rates: rates, used: implementation(of: winograd ? .winograd : .convolution))
        }

        /// im2col by itself, in images/s: the copy that the im2col + sgemm path adds.
        func im2colAlone(batch: Int, repeats: Int) throws -> Comparison {
            let (conv, input) = try layer(batch: batch)
            let x = input.floats
            let o = conv.outputSize(h: side, w: side)
            let columns = inChannels * kernel * kernel * o.h * o.w
            let workers = Parallel.workers(for: batch)
            var buffer = [Float](repeating: 0, count: workers * columns)
            let seconds = try x.withUnsafeBufferPointer { xp in
                try buffer.withUnsafeMutableBufferPointer { bp in
                    let col = SendablePointer(bp.baseAddress!)
                    return try bestTime(repeats: repeats) {
                        Parallel.forEach(batch, workers: workers) { image, worker in
                            conv.im2col(xp.baseAddress! + image * inChannels * side * side, h: side, w: side, out: o,
                                        into: col.p + worker * columns, rowStride: o.h * o.w)
                        }
                    }
                }
            }
            return Comparison(opClass: .convolution, shape: String(format: "%@ im2col alone: %.1f M floats per image", label, Double(columns) / 1e6),
                              unit: "images/s", rates: [("im2col", Double(batch) / seconds)],
                              used: implementation(of: .convolution))
        }
    }

    static let convolutionShapes: [ConvolutionShape] = [
        ConvolutionShape(label: "AlexNet conv1", inChannels: 3, outChannels: 64, kernel: 11, stride: 4, padding: 2, side: 224),
        ConvolutionShape(label: "AlexNet conv2", inChannels: 64, outChannels: 192, kernel: 5, stride: 1, padding: 2, side: 27),
        ConvolutionShape(label: "AlexNet conv3", inChannels: 192, outChannels: 384, kernel: 3, stride: 1, padding: 1, side: 13),
        ConvolutionShape(label: "AlexNet conv4", inChannels: 384, outChannels: 256, kernel: 3, stride: 1, padding: 1, side: 13),
        ConvolutionShape(label: "ResNet-18 conv1", inChannels: 3, outChannels: 64, kernel: 7, stride: 2, padding: 3, side: 224),
        ConvolutionShape(label: "ResNet-18 layer1", inChannels: 64, outChannels: 64, kernel: 3, stride: 1, padding: 1, side: 56),
        ConvolutionShape(label: "ResNet-18 layer2.0.conv1", inChannels: 64, outChannels: 128, kernel: 3, stride: 2, padding: 1, side: 56),
        ConvolutionShape(label: "ResNet-18 layer3", inChannels: 256, outChannels: 256, kernel: 3, stride: 1, padding: 1, side: 14),
        ConvolutionShape(label: "ResNet-18 layer4", inChannels: 512, outChannels: 512, kernel: 3, stride: 1, padding: 1, side: 7),
        ConvolutionShape(label: "ViT-B/32 conv_proj", inChannels: 3, outChannels: 768, kernel: 32, stride: 32, padding: 0, side: 224),
        ConvolutionShape(label: "fwRF conv4a", inChannels: 128, outChannels: 128, kernel: 3, stride: 1, padding: 1, side: 25),
    ]
}
