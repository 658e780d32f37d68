import ArgumentParser
import BERG
import BERGCompute
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
        // Noise images from a fixed xorshift sequence (cheap, and the same every run).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let pixels = (0..<(batch * 3 * 227 * 227)).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 32)
        }
        let stimulus = try Stimulus(images: pixels, count: batch, height: 227, width: 227)
        for name in rois {
            let model = try berg.getEncodingModel("fmri-nsd-fwrf", subject: Subject(subject), selection: ["roi": name])
            _ = try model.encode(stimulus.batch(0..<min(2, batch)))  // warm-up
            var times: [Double] = []
            var voxels = 0
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                let result = try model.encode(stimulus)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                voxels = result.responses["responses"]?.shape.last ?? 0
            }
            let best = times.min() ?? .nan
            let splits = name == "lateral" || name == "ventral" ? 2 : 1
            let gflop = Double(batch) * (Double(splits) * BenchFWRFCommand.backboneFLOPs + Double(voxels) * BenchFWRFCommand.readoutFLOPsPerVoxel) / 1e9
            writeStdout(String(format: "berg fwrf roi=%@ voxels=%d batch=%d: best %.3f s, %.1f images/s, %.1f GFLOP/s (%.1f GFLOP per run; runs: %@)\n",
                               name, voxels, batch, best, Double(batch) / best, gflop / best, gflop,
                               times.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
            // BERG_PROFILE=1: the readout's share of all runs (warm-up included).
            for (stage, seconds) in ComputeProfile.drain() {
                writeStdout(String(format: "  %@: %.3f s over %d runs + warm-up\n", stage, seconds, repeats))
            }
        }
    }

    /// Multiply-adds × 2 of one image through the convolutions (227×227 input).
    static let backboneFLOPs: Double = {
        // (out, in, k, output side) per convolution.
        let convs: [(Double, Double, Double, Double)] = [
            (64, 3, 11, 55), (192, 64, 5, 27), (128, 192, 3, 25),
            (128, 128, 3, 25), (128, 128, 3, 25),
            (128, 128, 3, 13), (128, 128, 3, 13), (128, 128, 3, 13), (64, 128, 3, 13),
        ]
        return convs.reduce(0) { $0 + 2 * $1.0 * $1.1 * $1.2 * $1.2 * $1.3 * $1.3 }
    }()
    /// 2 · Σ_k C_k · S_k per voxel and image: the pooling contraction.
    static let readoutFLOPsPerVoxel: Double = 2 * 256 * (27 * 27 + 25 * 25 + 13 * 13)
}
