import BERGCompute
import BERGCore
import Foundation

/// One measurement of the compute engine (`berg bench`).
public struct BenchmarkResult: Sendable {
    public let name: String
    public let batch: Int
    public let threads: Int
    public let imagesPerSecond: Double
    /// nil where the benchmark counts no floating-point operations.
    public let gflopsPerSecond: Double?
    /// `gflopsPerSecond` as a percentage of the peak it was measured against.
    public let percentOfPeak: Double?
    /// The process's peak resident memory so far.
    public let peakRSSMegabytes: Double
    /// Where the time went, when profiling is on (`BERG_PROFILE=1`); stages nested in others
    /// have names that start with spaces.
    public let stages: [ProfileStage]
}

/// A stage's accumulated wall time.
public struct ProfileStage: Sendable {
    public let name: String
    public let seconds: Double
}

/// sgemm 2048³ on one backend.
public struct SGEMMRate: Sendable {
    /// "OpenBLAS" or "oneDNN".
    public let backend: String
    /// With its version and kernels: "OpenBLAS 0.3.21 (Haswell kernels)".
    public let description: String
    public let threads: Int
    public let gflopsPerSecond: Double
}

/// How one op class of the engine runs here: "convolution (Winograd)" → "oneDNN Winograd convolution".
public struct OpClassImplementation: Sendable {
    public let opClass: String
    public let implementation: String
}

/// One op class on one layer's shape, timed with each implementation (`berg bench --backends`).
public struct BackendComparison: Sendable {
    public let opClass: String
    public let shape: String
    /// "GFLOP/s" or "images/s".
    public let unit: String
    public let rates: [(implementation: String, rate: Double)]
    /// The implementation the engine uses for this op class.
    public let used: String
}

/// A whole model timed end to end on one selection (`berg bench fmri-nsd-fwrf`).
public struct ModelBenchmarkResult: Sendable {
    public let roi: String
    public let voxels: Int
    public let batch: Int
    /// Every timed run, in seconds.
    public let runs: [Double]
    public var best: Double { runs.min() ?? .nan }
    public var imagesPerSecond: Double { Double(batch) / best }
    /// Floating-point operations of one run (the convolutions and the readout).
    public let gflopPerRun: Double
    public let stages: [ProfileStage]
}

extension BERG {
    /// The engine's benchmarks: operations and whole networks at 224×224 (random weights).
    public static var benchmarkNames: [String] { ComputeBenchmarks.cases.map(\.name) }

    /// The models `benchmarkModel` can time end to end.
    public static let benchmarkModels = ["fmri-nsd-fwrf"]

    /// Whether compute stages are timed (`BERG_PROFILE=1` turns it on at start-up).
    public static var profilingEnabled: Bool {
        get { ComputeProfile.enabled }
        set { ComputeProfile.enabled = newValue }
    }

    /// The GEMM backends of this build, with versions.
    public static var computeBackends: [String] { GEMMBackend.available.map(ComputeBenchmarks.describe) }

    /// How each op class runs here (which backend and algorithm).
    public static var opClassImplementations: [OpClassImplementation] {
        GEMMOpClass.allCases.map { OpClassImplementation(opClass: $0.rawValue, implementation: ComputeBenchmarks.implementation(of: $0)) }
    }

    /// sgemm 2048³ on every available backend with `threads` threads.
    public static func sgemmRates(threads: Int, repeats: Int = 3) throws -> [SGEMMRate] {
        try withThreads(threads) {
            try GEMMBackend.available.map { backend in
                SGEMMRate(backend: backend.rawValue, description: ComputeBenchmarks.describe(backend), threads: threads,
                          gflopsPerSecond: try ComputeBenchmarks.sgemmRate(backend, repeats: repeats))
            }
        }
    }

    /// Runs benchmark `name` (one of `benchmarkNames`) on `batch` images with `threads` threads:
    /// one warm-up, then the best of `repeats`. `peakGFLOPS` is what "% of peak" divides by.
    public static func runBenchmark(_ name: String, batch: Int, threads: Int, repeats: Int,
                                    peakGFLOPS: Double) throws -> BenchmarkResult {
        guard let benchmark = ComputeBenchmarks.cases.first(where: { $0.name == name }) else {
            throw BERGError.invalidParameter(model: "berg bench", name: "benchmark", value: name, valid: benchmarkNames)
        }
        return try withThreads(threads) {
            _ = ComputeProfile.drain()
            let body = try benchmark.prepare(batch)
            let best = try ComputeBenchmarks.bestTime(repeats: repeats, body)
            let imagesPerSecond = Double(batch) / best
            let gflops = benchmark.gflopPerImage > 0 ? benchmark.gflopPerImage * imagesPerSecond : nil
            return BenchmarkResult(name: name, batch: batch, threads: threads, imagesPerSecond: imagesPerSecond,
                                   gflopsPerSecond: gflops, percentOfPeak: gflops.map { 100 * $0 / peakGFLOPS },
                                   peakRSSMegabytes: peakRSSMegabytes(), stages: drainStages())
        }
    }

    /// Every op class on the shapes of ResNet-18, AlexNet, ViT-B/32 and fwRF, with each backend
    /// and algorithm available, on `threads` threads at `batch` images.
    public static func compareComputeBackends(threads: Int, batch: Int = 64, repeats: Int = 3) throws -> [BackendComparison] {
        try withThreads(threads) {
            try ComputeBenchmarks.compareBackends(batch: batch, repeats: repeats).map {
                BackendComparison(opClass: $0.opClass.rawValue, shape: $0.shape, unit: $0.unit, rates: $0.rates, used: $0.used)
            }
        }
    }

    /// Times `repeats` encodes of `batch` noise images (227×227) of model `id` per ROI, after a
    /// warm-up of two images, with `threads` threads (nil: the current count). The model's
    /// files come from this BERG's store.
    public func benchmarkModel(_ id: String, subject: Subject, rois: [String], batch: Int, repeats: Int,
                               threads: Int? = nil) throws -> [ModelBenchmarkResult] {
        guard BERG.benchmarkModels.contains(id) else {
            throw BERGError.invalidParameter(model: id, name: "model", value: id, valid: BERG.benchmarkModels)
        }
        return try BERG.withThreads(threads ?? ComputeThreads.count) {
            // Noise images from a fixed xorshift sequence (cheap, and the same every run).
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            let pixels = (0..<(batch * 3 * 227 * 227)).map { _ -> UInt8 in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state >> 32)
            }
            let stimulus = try Stimulus(images: pixels, count: batch, height: 227, width: 227)
            return try rois.map { roi in
                let model = try getEncodingModel(id, subject: subject, selection: ["roi": roi])
                _ = ComputeProfile.drain()
                _ = try model.encode(stimulus.batch(0..<min(2, batch)))  // warm-up
                var runs: [Double] = []
                var voxels = 0
                for _ in 0..<max(1, repeats) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let result = try model.encode(stimulus)
                    runs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    voxels = result.responses["responses"]?.shape.last ?? 0
                }
                let splits = roi == "lateral" || roi == "ventral" ? 2 : 1
                let flop = Double(batch) * (Double(splits) * BERG.fwrfBackboneFLOPs + Double(voxels) * ComputeBenchmarks.readoutFLOPsPerVoxel)
                return ModelBenchmarkResult(roi: roi, voxels: voxels, batch: batch, runs: runs, gflopPerRun: flop / 1e9,
                                            stages: BERG.drainStages())
            }
        }
    }

    /// Multiply-adds × 2 of one 227×227 image through fwRF's convolutions.
    static let fwrfBackboneFLOPs: Double = {
        // (out, in, k, output side) per convolution.
        let convs: [(Double, Double, Double, Double)] = [
            (64, 3, 11, 55), (192, 64, 5, 27), (128, 192, 3, 25),
            (128, 128, 3, 25), (128, 128, 3, 25),
            (128, 128, 3, 13), (128, 128, 3, 13), (128, 128, 3, 13), (64, 128, 3, 13),
        ]
        return convs.reduce(0) { $0 + 2 * $1.0 * $1.1 * $1.2 * $1.2 * $1.3 * $1.3 }
    }()

    /// Runs `body` with the engine's thread count set to `threads`, then puts the count back.
    static func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        let saved = ComputeThreads.count
        ComputeThreads.configure(threads)
        defer { ComputeThreads.configure(saved) }
        return try body()
    }

    static func drainStages() -> [ProfileStage] {
        ComputeProfile.drain().map { ProfileStage(name: $0.stage, seconds: $0.seconds) }
    }

    /// The process's peak resident memory so far, in MB: VmHWM from /proc/self/status on Linux
    /// (getrusage's ru_maxrss keeps the parent's peak across fork + exec, so a bench started
    /// from a large Python process would report Python's memory), else getrusage.
    static func peakRSSMegabytes() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kib = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kib / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
