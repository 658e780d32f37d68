import ArgumentParser
import BERG
import Foundation

struct DreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dream",
        abstract: "Grow an image from noise that maximises a model's mean response over some voxels.",
        discussion: """
        Examples:
          berg dream fmri-nsd-fwrf --subject 1 --roi PPA --berg-dir ~/berg --output ppa.png
          berg dream fmri-nsd-fwrf --subject 1 --roi V1 --voxels 0,1,2 --steps 256 \\
              --seed 3 --batch 4 --output v1.png --trace v1.csv

        As lucent's render_vis: the image is lucent's param.image(size, fft=True, \
        decorrelate=True) (a 1/f-scaled Fourier spectrum, colour-decorrelated, through a \
        sigmoid); before each step it is padded by 12 px of grey, jittered by up to 8 px, \
        scaled by one of 1, 0.975, 1.025, 0.95, 1.05, rotated by -5…5°, jittered by up to 4 px, \
        and resized to the model's input size; Adam (--lr) maximises the mean predicted \
        response over the selection's voxels (or --voxels, 0-based response columns).

        The same seed gives the same bytes. --trace writes the target per step as CSV \
        (step,target; with --batch, one more column per image). A progress bar shows on a \
        terminal.
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags
    @OptionGroup var target: VoxelOptions

    @Option(help: "Optimisation steps.") var steps = 512
    @Option(help: "Adam's learning rate.") var lr = 0.05
    @Option(help: "Seeds the noise and the transforms.") var seed: UInt64 = 0
    @Option(help: "Side of the dreamed image in pixels.") var size = 227
    @Option(help: "Images dreamed at once (written side by side).") var batch = 1
    @Option(help: "The PNG to write.") var output: String
    @Option(help: "Also write the target per step as CSV.") var trace: String?

    var settings: DreamSettings { DreamSettings(steps: steps, learningRate: lr, seed: seed, size: size, batch: batch) }

    func validate() throws {
        do { try settings.validate() } catch let error as BERGError { throw ValidationError(error.description) }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let job = DreamJob(modelID: model.modelID, subject: try berg.subject(model.subject, for: model.modelID, options: [:]), selection: try model.selection,
                           device: compute.device, voxels: target.voxels, settings: settings, output: output, trace: trace)
        let progress = try ProgressDisplay.fromEnvironment()
        let result = try berg.run(job, progress: progress)
        progress.end()
        let first = result.meanTrace.first ?? .nan, last = result.meanTrace.last ?? .nan
        writeStdout("target: first step \(first), last step \(last); final image \(result.finalValues.map { String($0) }.joined(separator: ", "))\n")
        FileHandle.standardError.write(Data("wrote \(job.outputs.joined(separator: ", "))\n".utf8))
    }
}
