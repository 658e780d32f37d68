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

        Files the model needs are fetched on first use (see `berg get-model`); BERG_OFFLINE=1 \
        forbids that. `berg describe <id>` lists a model's subjects, selections and options.
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags

    @Option(help: "An image, a folder of images, a .npy uint8 array, or a text file listing images.")
    var input: String

    @Option(help: "Where to write: .npy (float32 [N, V]) or .h5 (responses, stimulus names, attributes).")
    var output: String

    @Option(help: "Images per batch.") var batchSize = 64
    @Flag(help: "Also write the model's metadata (into the .h5 file).") var metadata = false
    @Option(help: "Also draw a PNG of the responses on the visual field (pRF models).") var picture: String?
    @Option(help: "Also write the responses into the ROI's voxels of a 4-D NIfTI volume, NaN elsewhere (.nii or .nii.gz; volume-space models such as fmri-nsd-fwrf).")
    var volume: String?
    @Option(name: .customLong("option"), help: ArgumentHelp(
        "An encoding option the model's manifest declares, such as center_crop=true (repeatable).", valueName: "key=value"))
    var options: [String] = []

    func validate() throws {
        for item in options where item.split(separator: "=", maxSplits: 1).count != 2 {
            throw ValidationError("--option takes KEY=VALUE, got '\(item)'")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
        guard ["npy", "h5", "hdf5"].contains(ext) else {
            throw ValidationError("--output must end in .npy or .h5, got '\(output)'")
        }
        if metadata && ext == "npy" { throw ValidationError("--metadata needs an .h5 output; a .npy file holds only the responses") }
        if let picture, URL(fileURLWithPath: picture).pathExtension.lowercased() != "png" {
            throw ValidationError("--picture must end in .png, got '\(picture)'")
        }
        if let volume, !(volume.hasSuffix(".nii") || volume.hasSuffix(".nii.gz")) {
            throw ValidationError("--volume must end in .nii or .nii.gz, got '\(volume)'")
        }
    }

    func run() throws {
        compute.apply()
        let berg = try store.makeBERG(registries: registry.registries)
        let manifest = try berg.describe(model.modelID)
        // Encoding options are selection keys the manifest declares with a default.
        var selection = model.selection
        for item in options {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            selection[parts[0]] = parts[1]
        }
        // The images decode while the model loads: both are mostly file reading, and the
        // model's loading runs on one thread. Images of different sizes are fine: the model
        // resizes (or the loader crops) each one.
        let (input, squareCrop) = (input, manifest.encoder.squareCrop)
        let stimuliLoading = InBackground { try StimulusLoader.loadRuns(input, squareCrop: squareCrop, threads: BERG.threadCount) }
        let encoder = try berg.getEncodingModel(model.modelID, subject: Subject(model.subject),
                                                selection: selection, device: compute.device)
        for path in [output] + [picture, volume].compactMap({ $0 }) { try checkWritable(path) }
        let stimuli = try stimuliLoading.result()
        let names = stimuli.flatMap(\.names), notes = stimuli.flatMap(\.notes)
        let progress: ProgressReporter? = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        let result = try berg.encode(encoder, stimuli, batchSize: batchSize, progress: progress)
        if progress != nil { FileHandle.standardError.write(Data("\n".utf8)) }
        var attributes = [
            "model_id": encoder.modelID, "subject": String(encoder.subject.number),
            "selection": encoder.selection.description, "berg_version": BERG.version,
            "device": encoder.device.rawValue, "input": input,
        ]
        // How the inputs were changed on the way in, such as a centre crop.
        if !notes.isEmpty { attributes["stimulus_notes"] = notes.joined(separator: "; ") }
        try ResultWriter.write(result, to: output, stimulusNames: names, attributes: attributes,
                               includeMetadata: metadata)
        if let picture {
            try BERG.writeResponsePicture(result, stimulusNames: names, to: picture)
        }
        if let volume { try BERG.writeResponseVolume(result, to: volume) }
        let shapes = result.responses.keys.sorted().map { "\($0) \(result.responses[$0]!.shape)" }.joined(separator: ", ")
        FileHandle.standardError.write(Data("wrote \(output) (\(shapes))\(picture.map { " and \($0)" } ?? "")\n".utf8))
    }

    /// Fails before any work when the output's folder is missing or not writable.
    private func checkWritable(_ path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder) is not writable")
        }
    }
}

/// A progress bar on stderr, for terminals only.
struct ProgressBar: ProgressReporter {
    func report(completed: Int, total: Int, message: String) {
        let width = 30
        let filled = total > 0 ? width * completed / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r\(message) [\(bar)] \(completed)/\(total)".utf8))
    }
}

/// Work started on another thread now, whose result (or error) is collected later.
final class InBackground<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?

    init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.outcome = Result { try work() }
            self.done.signal()
        }
    }

    /// Waits for the work, then returns its value or throws its error.
    func result() throws -> Value {
        done.wait()
        done.signal()  // later calls return at once
        return try outcome!.get()
    }
}
