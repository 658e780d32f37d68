import ArgumentParser
import BERG
import Foundation

struct AttributeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Integrated-gradients maps: which pixels drive a model's mean response over some voxels.",
        discussion: """
        Examples:
          berg attribute fmri-nsd-fwrf --subject 1 --roi FFA-1 --berg-dir ~/berg \\
              --input faces/ --output ffa.npy --picture ffa.png
          berg attribute img2fmri-bold5000 --subject 1 --roi PPA --voxels 0,5,9 \\
              --input scene.jpg --output ppa.h5 --steps 100 --method riemann_trapezoid
          berg attribute fmri-kay2013-css_prf --subject 1 --roi V1 --input bars/ \\
              --output v1.npy --baseline grey.png

        The target is the mean predicted response over the selection's voxels (or over \
        --voxels, 0-based columns of `berg encode`'s responses). Attributions are integrated \
        gradients exactly as captum computes IntegratedGradients(f).attribute(x, baselines, \
        n_steps=--steps, method=--method), with respect to the model's input image: float RGB \
        in [0, 1] at the model's input size, after its resize and crop and before its \
        normalisation (227×227 for fmri-nsd-fwrf, 224×224 for img2fmri-bold5000 and \
        feature-linear models on AlexNet or ResNet-18, the square-cropped image itself for pRF \
        models). The baseline is black (zeros) or an image \
        prepared the same way.

        --output .npy holds float32 [N, 3, H, W], raw; .h5 adds the targets, their sums and \
        the stimulus names. --picture draws each map averaged over colour and smoothed \
        (σ = 2 px) over its image. For each image the command prints the sum of its \
        attributions beside f(x) − f(baseline) (completeness: they agree as the steps grow).
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags
    @OptionGroup var target: VoxelOptions

    @Option(help: "An image, a folder of images, a .npy uint8 array, or a text file listing images.")
    var input: String

    @Option(help: "Where to write: .npy (float32 [N, 3, H, W]) or .h5 (attributions, targets, stimulus names).")
    var output: String

    @Option(help: "Also draw the maps over the images, as a PNG.") var picture: String?
    @Option(help: "Integration steps.") var steps = 50
    @Option(help: "Integration method: \(IntegrationMethod.allCases.map(\.rawValue).joined(separator: " or ")).")
    var method: IntegrationMethod = .gaussLegendre
    @Option(help: ArgumentHelp("'black', or an image file prepared as the inputs are.", valueName: "black|FILE"))
    var baseline = "black"

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if method == .riemannTrapezoid, steps < 2 { throw ValidationError("--method riemann_trapezoid needs --steps of at least 2") }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let job = AttributeJob(modelID: model.modelID, subject: try berg.subject(model.subject, for: model.modelID, options: [:]), selection: try model.selection,
                               device: compute.device, voxels: target.voxels, input: input, output: output,
                               picture: picture, steps: steps, method: method, baseline: baseline)
        let progress = try ProgressDisplay.fromEnvironment()
        let report = try berg.run(job, progress: progress)
        progress.end()
        writeStdout(report.completenessLines.joined(separator: "\n") + "\n")
        FileHandle.standardError.write(Data("wrote \(job.outputs.joined(separator: ", ")) (\(report.attribution.attributions.shape))\n".utf8))
    }
}

/// `--voxels I,J,…`: which response columns a target averages.
struct VoxelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Average only these 0-based response columns (default: all of the selection's).", valueName: "I,J,…"),
            transform: VoxelOptions.parse)
    var voxels: [Int]?

    static func parse(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--voxels takes 0-based indices separated by commas, such as 0,3,17; got '\(text)'")
        }
        guard Set(values).count == values.count else { throw ValidationError("--voxels names an index twice: '\(text)'") }
        return values
    }
}

extension IntegrationMethod: ExpressibleByArgument {}
