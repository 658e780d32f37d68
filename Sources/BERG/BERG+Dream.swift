import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import Foundation

/// One `berg dream` run: an image grown from noise to maximise a model's mean response over
/// some voxels. A library caller builds the same value and gets the same files.
public struct DreamJob: Sendable {
    public var modelID: String
    public var subject: Subject
    public var selection: Selection
    public var options: EncodingOptions
    public var device: Device
    /// 0-based columns of the responses to average; all of the selection's when nil.
    public var voxels: [Int]?
    public var settings: DreamSettings
    /// The PNG: the dream, or with a batch the dreams side by side.
    public var output: String
    /// Also a CSV of the target per step.
    public var trace: String?

    public init(modelID: String, subject: Subject, selection: Selection = [:], options: EncodingOptions = [:],
                device: Device = .auto, voxels: [Int]? = nil, settings: DreamSettings = DreamSettings(),
                output: String, trace: String? = nil) {
        self.modelID = modelID
        self.subject = subject
        self.selection = selection
        self.options = options
        self.device = device
        self.voxels = voxels
        self.settings = settings
        self.output = output
        self.trace = trace
    }

    /// Every file the job writes.
    public var outputs: [String] { [output] + [trace].compactMap { $0 } }
}

extension BERG {
    /// Checks a dream job before any work: the model, subject, selection and options; the
    /// settings; the output names.
    public func check(_ job: DreamJob) throws {
        try checkExplanation(modelID: job.modelID, subject: job.subject, selection: job.selection, options: job.options, device: job.device)
        try job.settings.validate()
        guard URL(fileURLWithPath: job.output).pathExtension.lowercased() == "png" else {
            throw BERGError.invalidArgument(name: "output", value: job.output, message: "name it .png")
        }
        if let trace = job.trace, URL(fileURLWithPath: trace).pathExtension.lowercased() != "csv" {
            throw BERGError.invalidArgument(name: "trace", value: trace, message: "name it .csv")
        }
        try BERG.checkDistinctWritable(job.outputs)
    }

    /// Runs a dream job: checks it, dreams, and writes the PNG (and the trace); on failure none
    /// of the files is left behind. The same settings give the same bytes.
    @discardableResult
    public func run(_ job: DreamJob, progress: ProgressReporter? = nil) throws -> DreamResult {
        try check(job)
        let model = try getDifferentiableModel(job.modelID, subject: job.subject, selection: job.selection,
                                               options: job.options, device: job.device)
        let result = try model.dream(voxels: model.checkedVoxels(job.voxels), settings: job.settings) { step, steps, _ in
            progress?.report(completed: step, total: steps, message: "steps")
        }
        try BERG.writingAll(job.outputs) {
            try BERG.writeDreamPNG(result, to: job.output)
            if let trace = job.trace { try BERG.writeTrace(result, to: trace) }
        }
        return result
    }

    /// The dreams side by side, one size × size image each.
    public static func writeDreamPNG(_ result: DreamResult, to path: String) throws {
        let (batch, side) = (result.images.shape[0], result.images.shape[2])
        let bytes = result.bytes, plane = side * side
        var rgb = [UInt8](repeating: 0, count: batch * plane * 3)
        let width = batch * side
        for b in 0..<batch {
            for y in 0..<side {
                for x in 0..<side {
                    for c in 0..<3 { rgb[(y * width + b * side + x) * 3 + c] = bytes[(b * 3 + c) * plane + y * side + x] }
                }
            }
        }
        try ImageCodec.writePNG(rgb: rgb, width: width, height: side, to: path)
    }

    /// `step,target` per step (the batch mean), then one column per image when there are several.
    public static func writeTrace(_ result: DreamResult, to path: String) throws {
        let batch = result.images.shape[0]
        var text = "step,target" + (batch > 1 ? (0..<batch).map { ",image_\($0)" }.joined() : "") + "\n"
        for (step, values) in result.trace.enumerated() {
            let mean = values.reduce(0, +) / Float(values.count)
            text += "\(step + 1),\(mean)" + (batch > 1 ? values.map { ",\($0)" }.joined() : "") + "\n"
        }
        try AtomicFile.write(Data(text.utf8), to: path)
    }
}
