import ArgumentParser
import BERG
import Foundation

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Predict a model's responses to images and write them to .npy or .h5.",
        discussion: """
        Examples:
          berg encode fmri-kay2013-css_prf --subject 1 --roi V1 \\
              --input images/ --output v1.npy
          berg encode fmri-nsd-fwrf --subject 1 --roi V1 --berg-dir ~/berg \\
              --input images/ --output v1.h5 --metadata --volume v1.nii.gz
          berg encode img2fmri-bold5000 --subject 2 --roi all \\
              --option center_crop=true --input photos/ --output csi2.h5

        Images of any size are fine: each model crops, resizes and normalises them as its \
        manifest says (`berg describe <id>`). Images are read and results written a batch at a \
        time, so memory does not grow with their number; progress goes to stderr (a bar on a \
        terminal, a line every 10 seconds otherwise). Files the model needs are fetched on first use \
        (see `berg get-model`); BERG_OFFLINE=1 forbids that. `berg describe <id>` lists a \
        model's subjects, selections and options. Everything is checked before any work, and a \
        failed run leaves none of its files behind.
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags

    @Option(help: "An image, a folder of images, a .npy uint8 array, or a text file listing images.")
    var input: String

    @Option(help: "Where to write: .npy (float32 [N, V]) or .h5 (responses, stimulus names, attributes).")
    var output: String

    @Option(parsing: .unconditional, help: "Images per batch.") var batchSize = 64
    @Flag(help: "Also write the model's metadata (into the .h5 file).") var metadata = false
    @Option(help: "Also draw a PNG of the responses on the visual field (pRF models).") var picture: String?
    @Option(help: "Also write the responses into the ROI's voxels of a 4-D NIfTI volume, NaN elsewhere (.nii or .nii.gz; volume-space models such as fmri-nsd-fwrf).")
    var volume: String?
    @Option(name: .customLong("option"), help: ArgumentHelp(
        "An encoding option the model's manifest declares, such as center_crop=true (repeatable).", valueName: "key=value"))
    var options: [String] = []
    @Flag(name: .customLong("skip-unreadable"), help: "Go on past image files that cannot be read or are in formats this build does not read: their responses are NaN, and they are listed (otherwise the first one ends the run).")
    var skipUnreadable = false

    func validate() throws {
        _ = try KeyValue.parseAll(options, flag: "--option")
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let job = EncodeJob(modelID: model.modelID, subject: Subject(model.subject), selection: try model.selection,
                            options: try berg.parseOptions(model.modelID, options), device: compute.device,
                            input: input, output: output, volume: volume, picture: picture,
                            includeMetadata: metadata, batchSize: batchSize, skipUnreadable: skipUnreadable,
                            warn: { writeStderr("berg: warning: \($0)\n") })
        let progress = try ProgressDisplay.fromEnvironment()
        let summary = try ModelFilesError.adding(modelID: job.modelID, subject: model.subject, selection: job.selection,
                                                 registries: registry.registries) {
            try berg.run(job, progress: progress)
        }
        progress.end()
        let shapes = summary.shapes.keys.sorted().map { "\($0) \(summary.shapes[$0]!)" }.joined(separator: ", ")
        writeStderr("wrote \(job.outputs.joined(separator: ", ")) (\(shapes))\n")
    }
}
