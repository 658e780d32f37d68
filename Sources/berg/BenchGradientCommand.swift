import ArgumentParser
import BERG
import Foundation

/// `berg bench-gradient`: input gradients per second of a model's mean ROI response, and the
/// memory they take. Tools/bench/fwrf_gradient_bench.sh runs it beside PyTorch autograd
/// (Tools/bench/torch_fwrf_gradient.py) on the full-size random fwRF checkpoints.
struct BenchGradientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-gradient",
        abstract: "Measure input-gradient throughput (images/s) and memory of a model's mean ROI response.",
        discussion: """
        Examples:
          berg bench-gradient fmri-nsd-fwrf --berg-dir /tmp/fwrf-full --roi V1 --batch 8

        The images are noise at the model's input size; the gradient is that of the mean
        response over all the selection's voxels, as `berg attribute` takes it at each step.
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags
    @Option(help: "Images per gradient.") var batch = 8
    @Option(help: "Timed runs; the best is reported.") var repeats = 5

    func validate() throws {
        guard batch >= 1, repeats >= 1 else { throw ValidationError("--batch and --repeats take positive numbers") }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let report = try berg.benchInputGradient(model.modelID, subject: try berg.subject(model.subject, for: model.modelID, options: [:]), selection: try model.selection,
                                                 batch: batch, repeats: repeats)
        writeStdout(report + "\n")
    }
}
