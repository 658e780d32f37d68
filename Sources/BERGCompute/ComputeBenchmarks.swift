import BERGCore
import CBLAS
import Foundation

/// The engine's benchmarks (`berg bench`, `BERG.runBenchmark`): operations and whole networks on
/// realistic sizes with random weights, the sgemm rate of each GEMM backend, and a per-op-class
/// comparison of the backends on the shapes of ResNet-18, AlexNet, ViT-B/32 and fwRF.
public enum ComputeBenchmarks {
    /// One benchmark: `prepare(batch)` builds the model and input once and returns the timed
    /// closure; `gflopPerImage` is 2 × multiply-adds per image (0: not counted).
    public struct Case: Sendable {
        public let name: String
        public let gflopPerImage: Double
        public let prepare: @Sendable (_ batch: Int) throws -> () throws -> Void
    }

    /// The benchmarks. A new one is one entry here.
    public static let cases: [Case] = [
        Case(name: "conv3x3", gflopPerImage: 2 * 64 * 64 * 9 * 56 * 56 / 1e9) { batch in
            var g = RandomStateDict.Generator(seed: 9)
            let conv = try Conv2d(weight: g.weights([64, 64, 3, 3]), bias: g.uniform([64]), padding: 1)
            let x = try g.uniform([batch, 64, 56, 56])
            return { _ = try conv(x, relu: true) }
        },
        Case(name: "maxpool", gflopPerImage: 0) { batch in
            var g = RandomStateDict.Generator(seed: 13)
            let x = try g.uniform([batch, 64, 112, 112])
            return { _ = try Ops.maxPool2d(x, kernel: 3, stride: 2, padding: 1) }
        },
        Case(name: "linear", gflopPerImage: 2 * 50 * 768 * 3072 / 1e9) { batch in
            var g = RandomStateDict.Generator(seed: 14)
            let layer = try Linear(weight: g.weights([3072, 768]), bias: g.uniform([3072]))
            let x = try g.uniform([batch, 50, 768])
            return { _ = try layer(x, activation: .gelu) }
        },
        Case(name: "fwrf-readout", gflopPerImage: 1350 * readoutFLOPsPerVoxel / 1e9) { batch in
            // fmri-nsd-fwrf V1's readout: 1,350 voxels over three 256-channel maps.
            var g = RandomStateDict.Generator(seed: 15)
            let sides = [27, 25, 13]
            let readout = try FWRFReadout(receptiveFields: sides.map { try g.uniform([1350, $0, $0]) },
                                          weights: g.uniform([1350, 768]), bias: g.uniform([1350]),
                                          channelCounts: [256, 256, 256])
            let maps = try sides.map { try g.uniform([batch, 256, $0, $0]) }
            return { _ = try readout(maps, threads: ComputeThreads.count) }
        },
        Case(name: "resize", gflopPerImage: 0) { batch in
            var g = RandomStateDict.Generator(seed: 10)
            let img = try Tensor(shape: [batch, 3, 375, 500], bytes: g.uniform([batch * 3 * 375 * 500]).floats.map { UInt8(($0 + 1) * 127.5) })
            return {
                _ = try ImageResize.torchvisionBilinear(img, height: 227, width: 227)
                _ = try ImageResize.resizeShorterSideCenterCrop(img, shorterSide: 256, crop: 224)
            }
        },
        network("resnet18", gflop: 2 * 1.814, output: "avgpool") { try ResNet18(stateDict: RandomStateDict.resnet18()) },
        network("alexnet", gflop: 2 * 0.714, output: "classifier.6") { try AlexNet(stateDict: RandomStateDict.alexnet()) },
        network("vit_b_32", gflop: 2 * 4.409, output: "encoder.layers.encoder_layer_11.add_1") {
            try VisionTransformer(stateDict: RandomStateDict.vitB32())
        },
    ]

    /// 2 · Σ_k C_k · S_k per voxel and image: fwRF's pooling contraction (27², 25², 13² maps of 256 channels).
    public static let readoutFLOPsPerVoxel: Double = 2 * 256 * (27 * 27 + 25 * 25 + 13 * 13)

    /// A whole network on [batch, 3, 224, 224]; GFLOP per image from torchvision's model table.
    static func network(_ name: String, gflop: Double, output: String, build: @escaping @Sendable () throws -> FeatureNetwork) -> Case {
        Case(name: name, gflopPerImage: gflop) { batch in
            let model = try build()
            var g = RandomStateDict.Generator(seed: 11)
            let x = try g.uniform([batch, 3, 224, 224])
            return { _ = try model.forward(x, outputs: [output]) }
        }
    }

    /// The best of `repeats` timings of `body`, in seconds, after one untimed warm-up run.
    public static func bestTime(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    /// sgemm 2048³ on `backend` with the current thread count, in GFLOP/s (best of `repeats`).
    public static func sgemmRate(_ backend: GEMMBackend, repeats: Int = 3) throws -> Double {
        let n = 2048
        var g = RandomStateDict.Generator(seed: 12)
        let a = try g.uniform([n * n]).floats, b = try g.uniform([n * n]).floats
        var c = [Float](repeating: 0, count: n * n)
        let seconds = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    bestTime(repeats: repeats) {
                        GEMM.multiply(.linear, m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n,
                                      c: cp.baseAddress!, ldc: n, threads: ComputeThreads.count, backend: backend)
                    }
                }
            }
        }
        return 2 * pow(Double(n), 3) / seconds / 1e9
    }

    /// What a backend is, for reports: "OpenBLAS 0.3.21 (Haswell kernels)", "oneDNN 2.6.3".
    public static func describe(_ backend: GEMMBackend) -> String {
        switch backend {
        case .openBLAS:
            let config = openblas_get_config().map { String(cString: $0) } ?? "OpenBLAS"
            let version = config.split(separator: " ").prefix(2).joined(separator: " ")
            let core = openblas_get_corename().map { String(cString: $0) } ?? "?"
            return "\(version) (\(core) kernels)"
        case .oneDNN:
            return "oneDNN \(OneDNN.version ?? "?")"
        }
    }

    /// How each op class runs in this build and environment.
    public static func implementation(of opClass: GEMMOpClass) -> String {
        let backend = GEMM.backend(for: opClass)
        switch (opClass, backend) {
        case (.convolution, .oneDNN): return "oneDNN direct convolution"
        case (.convolution, .openBLAS): return "im2col + OpenBLAS sgemm"
        case (.winograd, .oneDNN): return "oneDNN Winograd convolution"
        case (.winograd, .openBLAS): return "Winograd F(2×2, 3×3) + OpenBLAS sgemm"
        case (.float64, _): return "OpenBLAS dgemm and dsyrk"
        default: return "\(backend) sgemm"
        }
    }
}
