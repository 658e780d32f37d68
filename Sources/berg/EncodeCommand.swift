import ArgumentParser
import BERG
import Foundation

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Predict a model's responses to images or a movie and write them to .npy, .npz, .h5 or a NIfTI volume.",
        discussion: """
        Examples:
          berg encode fmri-kay2013-css_prf --subject 1 --roi V1 \\
              --input images/ --output v1.npy
          berg encode fmri-nsd-fwrf --subject 1 --roi V1 --berg-dir ~/berg \\
              --input images/ --output v1.h5 --metadata --volume v1.nii.gz
          berg encode img2fmri-bold5000 --subject 2 --roi all \\
              --option center_crop=true --input photos/ --output csi2.h5
          berg encode fmri-nsd_fsaverage-vit_b_32 --subject 1 --roi V1v \\
              --input images/ --output v1v.npz --surface v1v
          berg encode eeg-things_eeg_2-vit_b_32 --subject 10 \\
              --select channels=Oz,Cz --select timepoints=20:60 --input images/ --output eeg.h5
          berg encode fmri-nsd-fwrf --subject 1 --roi V1 --input images/ \\
              --shard 2/8 --output v1_2-of-8.h5
          berg encode img2fmri-bold5000 --space mni \\
              --input photos/ --output group.nii.gz
          berg encode img2fmri-bold5000 --space mni --sigma 1.25 \\
              --input movie.mp4 --fps 2 --output movie.nii.gz

        --space mni gives img2fmri's group average in MNI space (all three subjects, no \
        --subject), as a 4-D NIfTI (91×109×91×images, 0 outside the ROIs' mask) or as arrays. \
        A movie input is sampled at --fps frames per second (2 by default, as img2fmri), each \
        frame encoded, and the series convolved with img2fmri's haemodynamic response \
        (--no-hrf keeps the raw frame series, as img2fmri's predict_movie writes it).

        Images of any size are fine: each model crops, resizes and normalises them as its \
        manifest says (`berg describe <id>`). Images are read and results written a batch at a \
        time, so memory does not grow with their number; progress goes to stderr (a bar on a \
        terminal, a line every 10 seconds otherwise). Files the model needs are fetched on first use \
        (see `berg get-model`); BERG_OFFLINE=1 forbids that. `berg describe <id>` lists a \
        model's subjects, selections and options. Everything is checked before any work, and a \
        failed run leaves none of its files behind. --shard K/N encodes only the K-th of N \
        contiguous parts of the input (a folder in file-name order, a list in its own order; \
        `berg plan` makes a Slurm job array of such shards); its responses equal those rows of a \
        run over the whole input with the same --batch-size and --threads, bit for bit.
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags

    @Option(help: "An image, a folder of images, a .npy uint8 array, a text file listing images, or a movie (.mp4, .mov, …).")
    var input: String

    @Option(help: "Where to write: .npy (one output, float32), .npz (one array per output, such as lh and rh), .h5 (responses, stimulus names, attributes, labels such as an EEG model's ch_names and times), or .nii/.nii.gz (a 4-D volume).")
    var output: String

    @Option(help: ArgumentHelp("Only the K-th of N contiguous parts of the input (1 ≤ K ≤ N), such as 2/8.", valueName: "K/N"),
            transform: { text in
                do { return try Shard(parsing: text) } catch let error as BERGError { throw ValidationError(error.message) }
            })
    var shard: Shard?

    @Option(parsing: .unconditional, help: "Images per batch.") var batchSize = 64
    @Flag(help: "Also write the model's metadata (into the .h5 file).") var metadata = false
    @Option(help: "Also draw a PNG of the responses on the visual field (pRF models).") var picture: String?
    @Option(help: "Also write the responses into the ROI's voxels of a 4-D NIfTI volume, NaN elsewhere (.nii or .nii.gz; volume-space models such as fmri-nsd-fwrf).")
    var volume: String?
    @Option(help: ArgumentHelp("Also write GIfTI files PREFIX.lh.func.gii and PREFIX.rh.func.gii: one float32 array per image over all vertices, NaN where not selected (surface models such as fmri-nsd_fsaverage-vit_b_32).", valueName: "prefix"))
    var surface: String?
    @Option(name: .customLong("option"), help: ArgumentHelp(
        "An encoding option the model's manifest declares, such as center_crop=true (repeatable).", valueName: "key=value"))
    var options: [String] = []
    @Flag(name: .customLong("skip-unreadable"), help: "Go on past image files that cannot be read or are in formats this build does not read: their responses are NaN, and they are listed (otherwise the first one ends the run).")
    var skipUnreadable = false
    @Option(help: "subject or mni: shorthand for --option space=… (img2fmri-bold5000).") var space: String?
    @Option(help: "Smoothing σ in mm for --space mni (default 1): shorthand for --option sigma=….") var sigma: Double?
    @Option(help: "Frames per second sampled from a movie input (default 2).") var fps: Double?
    @Flag(help: "Do not convolve a movie's responses with the haemodynamic response.") var noHrf = false

    /// --option items plus the shorthands.
    var optionItems: [String] {
        options + [space.map { "space=\($0)" }, sigma.map { "sigma=\($0)" }].compactMap { $0 }
    }

    func validate() throws {
        _ = try KeyValue.parseAll(optionItems, flag: "--option")
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let encodingOptions = try berg.parseOptions(model.modelID, optionItems)
        let job = EncodeJob(modelID: model.modelID, subject: try berg.subject(model.subject, for: model.modelID, options: encodingOptions),
                            selection: try model.selection, options: encodingOptions, device: compute.device,
                            input: input, output: output, volume: volume, picture: picture, surface: surface,
                            includeMetadata: metadata, batchSize: batchSize, skipUnreadable: skipUnreadable, shard: shard,
                            warn: { writeStderr("berg: warning: \($0)\n") }, fps: fps, hrf: !noHrf)
        let progress = try ProgressDisplay.fromEnvironment()
        let summary = try ModelFilesError.adding(modelID: job.modelID, subject: model.subject, selection: job.selection,
                                                 registries: registry.registries) {
            try berg.run(job, progress: progress)
        }
        progress.end()
        let shapes = summary.shapes.keys.sorted().map { "\($0) \(summary.shapes[$0]!)" }.joined(separator: ", ")
        writeStderr("wrote \(job.outputs(for: try berg.describe(job.modelID)).joined(separator: ", ")) (\(shapes))\n")
    }
}
