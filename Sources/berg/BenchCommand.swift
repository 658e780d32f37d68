import ArgumentParser
import BERGCompute
import BERGCore
import CBLAS
import Foundation

/// `berg bench`: times the compute engine on realistic sizes (random weights) and prints
/// images/s, GFLOP/s, the share of this machine's measured sgemm peak, and peak memory.
/// `berg bench fmri-nsd-fwrf --berg-dir DIR` times that model end to end instead (as `bench-fwrf`).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the CPU compute engine: sgemm peak, operations, and whole networks at 224×224.",
        discussion: """
        Examples:
          berg bench --network resnet18 --batch 64 --threads 2
          BERG_PROFILE=1 berg bench --network alexnet     (where the time goes)
          berg bench fmri-nsd-fwrf --berg-dir /tmp/fwrf-full --roi V1 --batch 100
        """)

    @Argument(help: "A model to time end to end instead of the engine's benchmarks: \(Bench.models.joined(separator: ", ")) (needs --berg-dir).")
    var model: String?

    @Option(help: "With a model: a BERG directory holding its files.")
    var bergDir: String?

    @Option(help: "With a model: the subject.")
    var subject = 1

    @Option(help: "With a model: ROIs to measure (repeatable; default V1 and lateral).")
    var roi: [String] = []

    static let models = ["fmri-nsd-fwrf"]

    @Option(name: .long, parsing: .upToNextOption, help: "Benchmarks to run: \(Bench.cases.map(\.name).joined(separator: ", ")) (default: all).")
    var network: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes (default: 1 and 64; 100 with a model).")
    var batch: [Int] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts (default: 1 and all cores).")
    var threads: [Int] = []

    @Option(name: .long, help: "Timed repetitions per configuration; the best is reported.")
    var repeats: Int = 3

    func validate() throws {
        if let model {
            guard Bench.models.contains(model) else {
                throw ValidationError("No end-to-end benchmark for '\(model)'. Models: \(Bench.models.joined(separator: ", ")); engine benchmarks take --network")
            }
            guard bergDir != nil else {
                throw ValidationError("berg bench \(model) needs --berg-dir DIR, a BERG directory with the model's files (Tools/reference/make_fwrf_fixtures.py --full-dir makes random full-size ones)")
            }
            guard batch.count <= 1 else { throw ValidationError("berg bench \(model) takes one --batch size") }
        }
        let known = Set(Bench.cases.map(\.name))
        for n in network where !known.contains(n) {
            throw ValidationError("Unknown benchmark '\(n)'. Known: \(Bench.cases.map(\.name).joined(separator: ", "))")
        }
        guard batch.allSatisfy({ $0 > 0 }), threads.allSatisfy({ $0 > 0 }), repeats > 0 else {
            throw ValidationError("--batch, --threads and --repeats take positive numbers")
        }
    }

    /// One benchmark: `prepare(batch)` builds the model and input once and returns the timed
    /// closure; `gflopPerImage` is 2 × multiply-adds per image.
    struct Case: Sendable {
        let name: String
        let gflopPerImage: Double
        let prepare: @Sendable (_ batch: Int) throws -> () throws -> Void
    }

    /// The benchmarks. A new one is one entry here.
    static let cases: [Case] = [
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

    /// A whole network on [batch, 3, 224, 224]; GFLOP per image from torchvision's model table.
    static func network(_ name: String, gflop: Double, output: String, build: @escaping @Sendable () throws -> FeatureNetwork) -> Case {
        Case(name: name, gflopPerImage: gflop) { batch in
            let model = try build()
            var g = RandomStateDict.Generator(seed: 11)
            let x = try g.uniform([batch, 3, 224, 224])
            return { _ = try model.forward(x, outputs: [output]) }
        }
    }

    func run() throws {
        if model != nil, let bergDir {
            ComputeThreads.configure(threads.first)
            try BenchFWRFCommand.measure(bergDir: bergDir, subject: subject, rois: roi.isEmpty ? ["V1", "lateral"] : roi,
                                         batch: batch.first ?? 100, repeats: repeats)
            return
        }
        let batch = self.batch.isEmpty ? [1, 64] : self.batch
        let all = ProcessInfo.processInfo.activeProcessorCount
        let threadCounts = threads.isEmpty ? Array(Set([1, all])).sorted() : threads
        let selected = network.isEmpty ? Bench.cases : Bench.cases.filter { network.contains($0.name) }
        print("berg bench: \(all) cores; threads \(threadCounts); batches \(batch); best of \(repeats)")
        var peak: [Int: Double] = [:]
        for t in threadCounts {
            ComputeThreads.configure(t)
            peak[t] = try Bench.sgemmPeak()
            print(String(format: "sgemm 2048³, %d thread(s): %.1f GFLOP/s", t, peak[t]!))
        }
        print("benchmark      batch threads   images/s    GFLOP/s  % of sgemm peak  peak RSS (MB)")
        for c in selected {
            for b in batch {
                for t in threadCounts {
                    ComputeThreads.configure(t)
                    let body = try c.prepare(b)
                    try body()  // warm-up
                    var best = Double.infinity
                    for _ in 0..<repeats {
                        let start = DispatchTime.now().uptimeNanoseconds
                        try body()
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                    let ips = Double(b) / best
                    let gflops = c.gflopPerImage * ips
                    let share = c.gflopPerImage > 0 ? String(format: "%14.0f %%", 100 * gflops / peak[t]!) : String(repeating: " ", count: 14) + "  -"
                    print(String(format: "%-14@ %5d %7d %10.2f %10.1f", c.name, b, t, ips, gflops) + " " + share
                          + String(format: " %14.0f", Bench.peakRSSMegabytes()))
                    let stages = ComputeProfile.drain()
                    if ComputeProfile.enabled && !stages.isEmpty {
                        // Stages nested inside others (indented names) are shares of the same total.
                        let total = stages.filter { !$0.stage.hasPrefix(" ") }.reduce(0) { $0 + $1.seconds }
                        for s in stages.sorted(by: { $0.seconds > $1.seconds }).prefix(14) {
                            print("    " + s.stage.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%6.1f %%", 100 * s.seconds / total))
                        }
                    }
                }
            }
        }
        ComputeThreads.configure(nil)
    }

    /// Best of three 2048³ sgemm runs, in GFLOP/s, with the current thread count.
    static func sgemmPeak() throws -> Double {
        let n = 2048
        var g = RandomStateDict.Generator(seed: 12)
        let a = try g.uniform([n * n]).floats, b = try g.uniform([n * n]).floats
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * pow(Double(n), 3) / best / 1e9
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
