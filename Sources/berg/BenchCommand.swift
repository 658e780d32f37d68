import ArgumentParser
import BERG
import Foundation

/// `berg bench`: times the compute engine on realistic sizes (random weights) and prints the
/// GEMM backends with their sgemm rates, which backend each op class runs on, then images/s,
/// GFLOP/s, the share of the best sgemm rate measured, and peak memory per benchmark.
/// `berg bench fmri-nsd-fwrf --berg-dir DIR` times that model end to end instead (as `bench-fwrf`).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the CPU compute engine: sgemm per backend, operations, and whole networks at 224×224.",
        discussion: """
        "% of peak" is against the best sgemm 2048³ rate that any backend reaches here, with the \
        same thread count: what the hardware gives a GEMM.

        Examples:
          berg bench --network resnet18 --batch 64 --threads 2
          BERG_PROFILE=1 berg bench --network alexnet    (where the time goes)
          berg bench --backends --threads 2    (each op class on each backend)
          berg bench fmri-nsd-fwrf --berg-dir /tmp/fwrf-full --roi V1 --batch 100
        """)

    @Argument(help: "A model to time end to end instead of the engine's benchmarks: \(BERG.benchmarkModels.joined(separator: ", ")) (needs --berg-dir).")
    var model: String?

    @Option(help: "With a model: a BERG directory holding its files.")
    var bergDir: String?

    @Option(help: "With a model: the subject.")
    var subject = 1

    @Option(help: "With a model: ROIs to measure (repeatable; default V1 and lateral).")
    var roi: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Benchmarks to run: \(BERG.benchmarkNames.joined(separator: ", ")) (default: all).")
    var network: [String] = []

    @Flag(help: "Time every op class on the networks' shapes with each GEMM backend and algorithm, instead of the benchmarks.")
    var backends = false

    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes (default: 1 and 64; 100 with a model).")
    var batch: [Int] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts (default: 1 and all cores).")
    var threads: [Int] = []

    @Option(name: .long, help: "Timed repetitions per configuration; the best is reported.")
    var repeats: Int = 3

    func validate() throws {
        if let model {
            guard BERG.benchmarkModels.contains(model) else {
                throw ValidationError("No end-to-end benchmark for '\(model)'. Models: \(BERG.benchmarkModels.joined(separator: ", ")); engine benchmarks take --network")
            }
            guard bergDir != nil else {
                throw ValidationError("berg bench \(model) needs --berg-dir DIR, a BERG directory with the model's files (Tools/reference/make_fwrf_fixtures.py --full-dir makes random full-size ones)")
            }
            guard batch.count <= 1, threads.count <= 1 else { throw ValidationError("berg bench \(model) takes one --batch size and one --threads count") }
        }
        let known = Set(BERG.benchmarkNames)
        for n in network where !known.contains(n) {
            throw ValidationError("Unknown benchmark '\(n)'. Known: \(BERG.benchmarkNames.joined(separator: ", "))")
        }
        guard batch.allSatisfy({ $0 > 0 }), threads.allSatisfy({ $0 > 0 }), repeats > 0 else {
            throw ValidationError("--batch, --threads and --repeats take positive numbers")
        }
    }

    func run() throws {
        if model != nil, let bergDir {
            if let count = threads.first { try BERG.configureThreads(count) }
            try BenchFWRFCommand.measure(bergDir: bergDir, subject: subject, rois: roi.isEmpty ? ["V1", "lateral"] : roi,
                                         batch: batch.first ?? 100, repeats: repeats)
            return
        }
        let all = ProcessInfo.processInfo.activeProcessorCount
        let threadCounts = threads.isEmpty ? Array(Set([1, all])).sorted() : threads
        print("berg bench: \(all) cores; threads \(threadCounts); best of \(repeats)")
        print("backends: \(BERG.computeBackends.joined(separator: ", "))")
        var peak: [Int: Double] = [:]
        for t in threadCounts {
            let rates = try BERG.sgemmRates(threads: t)
            peak[t] = rates.map(\.gflopsPerSecond).max() ?? .nan
            print("sgemm 2048³, \(t) thread(s): " + rates.map { String(format: "%@ %.1f GFLOP/s", $0.backend, $0.gflopsPerSecond) }.joined(separator: ", "))
        }
        print("op class".padding(toLength: 26, withPad: " ", startingAt: 0) + "runs on")
        for row in BERG.opClassImplementations {
            print(row.opClass.padding(toLength: 26, withPad: " ", startingAt: 0) + row.implementation)
        }
        if backends {
            try compareBackends(threadCounts)
            return
        }
        let batches = batch.isEmpty ? [1, 64] : batch
        let selected = network.isEmpty ? BERG.benchmarkNames : BERG.benchmarkNames.filter { network.contains($0) }
        print("benchmark      batch threads   images/s    GFLOP/s      % of peak  peak RSS (MB)")
        for name in selected {
            for b in batches {
                for t in threadCounts {
                    let result = try BERG.runBenchmark(name, batch: b, threads: t, repeats: repeats, peakGFLOPS: peak[t]!)
                    let share = result.percentOfPeak.map { String(format: "%12.0f %%", $0) } ?? String(repeating: " ", count: 12) + "  -"
                    print(String(format: "%-14@ %5d %7d %10.2f %10.1f", name, b, t, result.imagesPerSecond, result.gflopsPerSecond ?? 0)
                          + " " + share + String(format: " %14.0f", result.peakRSSMegabytes))
                    printStages(result.stages)
                }
            }
        }
    }

    /// BERG_PROFILE=1: the largest stages; those nested in others (indented) are shares of the same total.
    func printStages(_ stages: [ProfileStage]) {
        guard BERG.profilingEnabled, !stages.isEmpty else { return }
        let total = stages.filter { !$0.name.hasPrefix(" ") }.reduce(0) { $0 + $1.seconds }
        for s in stages.sorted(by: { $0.seconds > $1.seconds }).prefix(14) {
            print("    " + s.name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%6.1f %%", 100 * s.seconds / total))
        }
    }

    /// `--backends`: each op class on the networks' shapes, every implementation, at the first batch size (default 64).
    func compareBackends(_ threadCounts: [Int]) throws {
        for t in threadCounts {
            let b = batch.first ?? 64
            print("\nop classes on \(t) thread(s), batch \(b):")
            for row in try BERG.compareComputeBackends(threads: t, batch: b, repeats: repeats) {
                print("\(row.opClass) — \(row.shape) (\(row.unit))")
                for rate in row.rates {
                    let mark = rate.implementation == row.used ? "   ← used" : ""
                    print("    " + rate.implementation.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%9.1f", rate.rate) + mark)
                }
            }
        }
    }
}
