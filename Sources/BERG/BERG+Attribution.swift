import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import BERGRegistry
import Foundation

/// One `berg attribute` run: integrated gradients of a model's mean response over some voxels,
/// for each input image. A library caller builds the same value and gets the same files.
public struct AttributeJob: Sendable {
    public var modelID: String
    public var subject: Subject
    public var selection: Selection
    public var options: EncodingOptions
    public var device: Device
    /// 0-based columns of the responses to average; all of the selection's when nil.
    public var voxels: [Int]?
    /// An image, a folder of images, a text file listing images, or a uint8 `.npy` array.
    public var input: String
    /// `.npy` (float32 [N, 3, H, W], raw attributions) or `.h5` (with targets and names).
    public var output: String
    /// Also a PNG: each image's map averaged over colour, smoothed, over the image.
    public var picture: String?
    public var steps: Int
    public var method: IntegrationMethod
    /// "black" (zeros), or an image file prepared as the inputs are.
    public var baseline: String

    public init(modelID: String, subject: Subject, selection: Selection = [:], options: EncodingOptions = [:],
                device: Device = .auto, voxels: [Int]? = nil, input: String, output: String, picture: String? = nil,
                steps: Int = 50, method: IntegrationMethod = .gaussLegendre, baseline: String = "black") {
        self.modelID = modelID
        self.subject = subject
        self.selection = selection
        self.options = options
        self.device = device
        self.voxels = voxels
        self.input = input
        self.output = output
        self.picture = picture
        self.steps = steps
        self.method = method
        self.baseline = baseline
    }

    /// Every file the job writes.
    public var outputs: [String] { [output] + [picture].compactMap { $0 } }
}

/// What `run(_: AttributeJob)` computed: the attributions and, per image, completeness.
public struct AttributionReport: Sendable {
    public var attribution: Attribution
    public var stimulusNames: [String]
    /// The voxels averaged (0-based response columns).
    public var voxels: [Int]

    /// One line per image: Σ attributions against f(x) − f(baseline).
    public var completenessLines: [String] {
        let sums = attribution.sums, errors = attribution.completenessErrors
        return stimulusNames.indices.map { i in
            let delta = Double(attribution.values[i]) - Double(attribution.baselineValues[i])
            return String(format: "%@: sum of attributions %.6g, f(x) - f(baseline) = %.6g - %.6g = %.6g (%.2f %%)",
                          stimulusNames[i], sums[i], Double(attribution.values[i]), Double(attribution.baselineValues[i]),
                          delta, 100 * errors[i])
        }
    }
}

extension BERG {
    /// The model, as one whose responses can be differentiated with respect to its input image
    /// (the kinds `fwrf`, `img2fmri` and `css_prf`).
    public func getDifferentiableModel(_ id: String, subject: Subject, selection: Selection = [:],
                                       options: EncodingOptions = [:], device: Device = .auto) throws -> any DifferentiableEncodingModel {
        try checkHasInputGradients(id)
        let model = try getEncodingModel(id, subject: subject, selection: selection, options: options, device: device)
        guard let differentiable = model as? any DifferentiableEncodingModel else {
            throw BERGError.invalidArgument(name: "model", value: id, message: "this build of its kind has no input gradients")
        }
        return differentiable
    }

    /// Encoder kinds whose models give input gradients (`feature-linear` ones on the
    /// ResNet-18 and AlexNet backbones only).
    public static let differentiableKinds = ["css_prf", "feature-linear", "fwrf", "img2fmri"]

    /// The registry's models that give input gradients.
    public func differentiableModelIDs() throws -> [String] {
        try listModels().filter { BERG.hasInputGradients(try registry.manifest($0)) }
    }

    static func hasInputGradients(_ manifest: Manifest) -> Bool {
        guard BERG.differentiableKinds.contains(manifest.encoder.kind) else { return false }
        return manifest.encoder.kind != FeatureLinearEncoder.kind.name || FeatureLinearEncoder.hasInputGradients(manifest)
    }

    /// Throws a usage error naming the models that have input gradients when `id` has none.
    func checkHasInputGradients(_ id: String) throws {
        let manifest = try registry.manifest(id)
        guard BERG.hasInputGradients(manifest) else {
            let why = BERG.differentiableKinds.contains(manifest.encoder.kind)
                ? "its network has no input gradients (feature-linear models on \(FeatureLinearEncoder.differentiableNetworks.joined(separator: " or ")) have them)"
                : "its kind '\(manifest.encoder.kind)' has no input gradients"
            throw BERGError.invalidArgument(name: "model", value: id, message: "\(why); attribution and dreams work with \(try differentiableModelIDs().joined(separator: ", ")) and models of the kinds \(BERG.differentiableKinds.joined(separator: ", "))")
        }
    }

    /// Checks an attribution job before any work: the model, subject, selection and options;
    /// the output names; the steps for the method; the input and baseline files.
    public func check(_ job: AttributeJob) throws {
        try checkExplanation(modelID: job.modelID, subject: job.subject, selection: job.selection, options: job.options, device: job.device)
        let outputExtension = URL(fileURLWithPath: job.output).pathExtension.lowercased()
        guard ["npy", "h5", "hdf5"].contains(outputExtension) else {
            throw BERGError.invalidArgument(name: "output", value: job.output, message: "name it .npy (float32 [N, 3, H, W] attributions) or .h5 (attributions, targets, stimulus names)")
        }
        if let picture = job.picture, URL(fileURLWithPath: picture).pathExtension.lowercased() != "png" {
            throw BERGError.invalidArgument(name: "picture", value: picture, message: "name it .png")
        }
        let fewest = job.method == .riemannTrapezoid ? 2 : 1
        guard job.steps >= fewest, job.steps <= 10_000 else {
            throw BERGError.invalidArgument(name: "steps", value: String(job.steps), message: "\(job.method.rawValue) takes \(fewest)...10000 steps")
        }
        try BERG.checkDistinctWritable(job.outputs)
        guard FileManager.default.fileExists(atPath: job.input) else {
            throw BERGError.fileNotFound(path: job.input, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        if job.baseline != "black", !FileManager.default.fileExists(atPath: job.baseline) {
            throw BERGError.invalidArgument(name: "baseline", value: job.baseline, message: "give 'black' or an image file; no such file")
        }
    }

    /// Runs an attribution job: checks it, computes integrated gradients for every input image,
    /// and writes the files it names (none of them on failure).
    @discardableResult
    public func run(_ job: AttributeJob, progress: ProgressReporter? = nil) throws -> AttributionReport {
        try check(job)
        let model = try getDifferentiableModel(job.modelID, subject: job.subject, selection: job.selection,
                                               options: job.options, device: job.device)
        let voxels = try model.checkedVoxels(job.voxels)
        let stimuli = try loadStimuli(job.input)
        let images = try BERG.inputImages(model, stimuli)
        let baseline = try job.baseline == "black" ? nil : BERG.baselineImage(model, path: job.baseline, like: images)
        let attribution = try model.integratedGradients(images, baseline: baseline, voxels: voxels, steps: job.steps,
                                                        method: job.method) { done, total in
            progress?.report(completed: done, total: total, message: "gradients")
        }
        let report = AttributionReport(attribution: attribution, stimulusNames: stimuli.flatMap(\.names), voxels: voxels)
        try BERG.writingAll(job.outputs) {
            try write(report, job: job, model: model)
            if let picture = job.picture { try BERG.writeAttributionPicture(report, images: images, to: picture) }
        }
        return report
    }

    /// Writes the attributions: `.npy` float32 [N, 3, H, W], or `.h5` with
    /// ```
    /// /                    attributes: model_id, subject, selection, method, steps, baseline,
    /// │                    input (what the attributions are taken against), berg_version
    /// ├── attributions     float32 [N, 3, H, W]
    /// ├── target           float32 [N]: f(x), the mean response over the voxels
    /// ├── baseline_target  float32 [N]: f(baseline)
    /// ├── attribution_sum  float64 [N]: Σ attributions (completeness: ≈ target − baseline_target)
    /// ├── voxels           int64 [V]: the 0-based response columns averaged
    /// └── stimulus_names   strings [N]
    /// ```
    func write(_ report: AttributionReport, job: AttributeJob, model: any DifferentiableEncodingModel) throws {
        let a = report.attribution
        if URL(fileURLWithPath: job.output).pathExtension.lowercased() == "npy" {
            return try NPYFile.write(a.attributions, to: job.output)
        }
        try ResultWriter.writeHDF5File(to: job.output) { file in
            try file.write(a.attributions, at: "attributions", compressed: true)
            try file.write(Tensor(shape: [a.values.count], floats: a.values), at: "target")
            try file.write(Tensor(shape: [a.baselineValues.count], floats: a.baselineValues), at: "baseline_target")
            try file.write(Tensor(shape: [a.values.count], doubles: a.sums), at: "attribution_sum")
            try file.write(Tensor(shape: [report.voxels.count], int64s: report.voxels.map(Int64.init)), at: "voxels")
            try file.writeStrings(report.stimulusNames, at: "stimulus_names")
            let attributes: [String: HDF5File.AttributeValue] = [
                "model_id": .string(model.modelID), "subject": .int(model.subject.number),
                "selection": .string(model.selection.values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
                "berg_version": .string(BERG.version), "method": .string(a.method.rawValue), "steps": .int(a.steps),
                "baseline": .string(job.baseline), "input": .string(BERG.inputDescription(model)),
            ]
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(key, value) }
        }
    }

    /// What gradients are taken against, for a file's attributes and the help.
    static func inputDescription(_ model: any DifferentiableEncodingModel) -> String {
        let size = model.inputSide.map { "\($0)×\($0)" } ?? "its own (square-cropped) size"
        return "float RGB image in [0, 1] at \(size), after the model's resize and crop, before its normalisation"
    }

    /// The stimuli as the model's float input, in order; they must come out of one size.
    static func inputImages(_ model: any DifferentiableEncodingModel, _ stimuli: [Stimulus]) throws -> Tensor {
        let parts = try stimuli.map { try model.inputImages($0) }
        guard let first = parts.first else { throw BERGError.invalidInput("There are no images to attribute") }
        guard parts.allSatisfy({ $0.shape.dropFirst() == first.shape.dropFirst() }) else {
            throw BERGError.invalidArgument(name: "input", value: parts.map { "\($0.shape[2])×\($0.shape[3])" }.joined(separator: ", "),
                                            message: "\(model.modelID) takes images at their own size, so they must all have one size; crop or resize them first")
        }
        let n = parts.reduce(0) { $0 + $1.shape[0] }
        return try Tensor(shape: [n] + first.shape.dropFirst(), floats: parts.flatMap(\.floats))
    }

    /// One image file prepared as the inputs are, [1, 3, S, S].
    static func baselineImage(_ model: any DifferentiableEncodingModel, path: String, like images: Tensor) throws -> Tensor {
        let stimulus = try StimulusLoader.load(path)
        guard stimulus.count == 1 else {
            throw BERGError.invalidArgument(name: "baseline", value: path, message: "holds \(stimulus.count) images; give one")
        }
        let image = try model.inputImages(stimulus)
        guard image.shape.dropFirst() == images.shape.dropFirst() else {
            throw BERGError.invalidArgument(name: "baseline", value: path, message: "comes out \(image.shape[2])×\(image.shape[3]) but the inputs \(images.shape[2])×\(images.shape[3]); give an image of their size")
        }
        return image
    }

    /// The checks an explanation (attribution or dream) shares: the model's kind has gradients,
    /// and the subject, selection and options are valid.
    func checkExplanation(modelID: String, subject: Subject, selection: Selection, options: EncodingOptions, device: Device) throws {
        _ = try prepare(modelID, subject: subject, selection: selection, options: options, device: device)
        try checkHasInputGradients(modelID)
    }

    /// Outputs that name different files, in writable folders, none of them a folder.
    static func checkDistinctWritable(_ outputs: [String]) throws {
        let paths = outputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if Set(paths).count != paths.count {
            throw BERGError.invalidArgument(name: "outputs", value: outputs.joined(separator: ", "), message: "two outputs name the same file")
        }
        for path in outputs { try checkWritable(path) }
    }

    /// Runs `body`, which writes `outputs`; when it fails, removes whichever of them it wrote.
    static func writingAll(_ outputs: [String], _ body: () throws -> Void) throws {
        let existed = Set(outputs.filter { FileManager.default.fileExists(atPath: $0) })
        do { try body() } catch {
            for path in outputs where !existed.contains(path) { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
    }

    /// Input gradients per second of a model's mean response over its selection, for noise
    /// images at its input size, and the memory they take; one line of text.
    public func benchInputGradient(_ id: String, subject: Subject, selection: Selection, batch: Int, repeats: Int) throws -> String {
        let model = try getDifferentiableModel(id, subject: subject, selection: selection)
        let side = model.inputSide ?? 227
        var generator = SeededGenerator(seed: 1)
        let images = try Tensor(shape: [batch, 3, side, side], floats: (0..<(batch * 3 * side * side)).map { _ in Float(generator.nextUniform()) })
        let target = try model.responseTarget(voxels: nil)
        let loaded = MemoryUse.residentMegabytes()
        MemoryUse.resetPeak()
        _ = try target.valuesAndGradients(images)  // warm-up
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try target.valuesAndGradients(images)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let best = times.min() ?? .nan
        let stages = ComputeProfile.drain().map { String(format: "\n  %@: %.3f s over %d runs + warm-up", $0.stage, $0.seconds, repeats) }.joined()
        return String(format: "berg input gradient %@ %@ voxels=%d batch=%d side=%d threads=%d: best %.3f s, %.2f images/s (runs: %@); memory: %.0f MB after loading, peak %.0f MB",
                      id, selection.values.map { "\($0)=\($1)" }.sorted().joined(separator: ","), model.responseCount, batch, side,
                      BERG.threadCount, best, Double(batch) / best, times.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                      loaded, MemoryUse.peakMegabytes()) + stages
    }
}

/// The process's resident memory, from /proc/self/status (Linux; nan elsewhere).
enum MemoryUse {
    static func field(_ name: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kib / 1024
    }

    static func residentMegabytes() -> Double { field("VmRSS") }
    static func peakMegabytes() -> Double { field("VmHWM") }

    /// Starts the peak (VmHWM) afresh from the current resident size.
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}
