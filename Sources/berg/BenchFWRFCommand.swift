import ArgumentParser
import BERG
import Foundation

/// `berg bench-fwrf`: images/s of fmri-nsd-fwrf on a BERG directory (for the benchmark, the
/// full-size random checkpoints of Tools/reference/make_fwrf_fixtures.py --full-dir).
/// Tools/bench/fwrf_bench.sh runs it beside PyTorch (Tools/bench/torch_compare_fwrf.py).
struct BenchFWRFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-fwrf", abstract: "Measure fmri-nsd-fwrf's throughput (images/s) on a BERG directory.")

    @Option(help: "A BERG directory holding the model's files.") var bergDir: String
    @Option(help: "The subject.") var subject = 1
    @Option(help: "ROIs to measure (repeatable).") var roi: [String] = ["V1", "lateral"]
    @Option(help: "Images per run.") var batch = 100
    @Option(help: "Timed runs per ROI; the best is reported.") var repeats = 3
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        try compute.apply()
        try BenchFWRFCommand.measure(bergDir: bergDir, subject: subject, rois: roi, batch: batch, repeats: repeats)
    }

    /// Times `repeats` encodes of `batch` noise images per ROI and prints the best (shared
    /// with `berg bench fmri-nsd-fwrf`).
    static func measure(bergDir: String, subject: Int, rois: [String], batch: Int, repeats: Int) throws {
        let folder = try StoreOptions.checkedBergDir(bergDir, name: "--berg-dir")
        let berg = try BERG(storeOptions: StoreOptions(bergDir: folder, offline: true))
        for result in try berg.benchmarkModel("fmri-nsd-fwrf", subject: Subject(subject), rois: rois, batch: batch, repeats: repeats) {
            writeStdout(String(format: "berg fwrf roi=%@ voxels=%d batch=%d: best %.3f s, %.1f images/s, %.1f GFLOP/s (%.1f GFLOP per run; runs: %@)\n",
                               result.roi, result.voxels, result.batch, result.best, result.imagesPerSecond,
                               result.gflopPerRun / result.best, result.gflopPerRun,
                               result.runs.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
            // BERG_PROFILE=1: where the time went, over all runs (warm-up included).
            for stage in result.stages {
                writeStdout(String(format: "  %@: %.3f s over %d runs + warm-up\n", stage.name, stage.seconds, repeats))
            }
        }
    }
}
