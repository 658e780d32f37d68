import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// One `berg encode` run: a model, the images to give it, and the files to write. A library
/// caller builds the same value and gets the same files.
public struct EncodeJob: Sendable {
    public var modelID: String
    public var subject: Subject
    public var selection: Selection
    public var options: EncodingOptions
    public var device: Device
    /// An image, a folder of images, a text file listing images, or a uint8 `.npy` array.
    public var input: String
    /// `.npy` (one output) or `.h5`.
    public var output: String
    /// Also a 4-D NIfTI of the responses on the model's voxel grid (volume-placed models).
    public var volume: String?
    /// Also a PNG of the responses on the visual field (pRF models).
    public var picture: String?
    /// Also the model's metadata, in the `.h5` output.
    public var includeMetadata: Bool
    public var batchSize: Int

    public init(modelID: String, subject: Subject, selection: Selection = [:], options: EncodingOptions = [:],
                device: Device = .auto, input: String, output: String, volume: String? = nil, picture: String? = nil,
                includeMetadata: Bool = false, batchSize: Int = 64) {
        self.modelID = modelID
        self.subject = subject
        self.selection = selection
        self.options = options
        self.device = device
        self.input = input
        self.output = output
        self.volume = volume
        self.picture = picture
        self.includeMetadata = includeMetadata
        self.batchSize = batchSize
    }

    /// Every file the job writes.
    public var outputs: [String] { [output] + [volume, picture].compactMap { $0 } }
}

extension BERG {
    /// Checks a job before any work is done: the model id, subject, selection and options; the
    /// output names, their folders, and that nothing the job writes is a folder; that the
    /// model's outputs fit the files asked for (`.npy` holds one output; `volume` needs a
    /// volume-placed model, `picture` a visual-field one); the input exists. Usage errors throw
    /// `invalidArgument` or `invalidParameter`.
    @discardableResult
    public func check(_ job: EncodeJob) throws -> Manifest {
        let manifest = try registry.manifest(job.modelID)
        _ = try prepare(job.modelID, subject: job.subject, selection: job.selection, options: job.options, device: job.device)
        guard job.batchSize >= 1 else {
            throw BERGError.invalidArgument(name: "batch size", value: String(job.batchSize), message: "must be at least 1")
        }
        let outputExtension = URL(fileURLWithPath: job.output).pathExtension.lowercased()
        guard ["npy", "h5", "hdf5"].contains(outputExtension) else {
            throw BERGError.invalidArgument(name: "output", value: job.output, message: "it must end in .npy or .h5 (.npy: the responses only; .h5: responses, stimulus names, attributes and metadata)")
        }
        if outputExtension == "npy" {
            if job.includeMetadata {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "a .npy file holds only the responses; write an .h5 file to include the metadata")
            }
            if manifest.output.count > 1 {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "\(job.modelID) gives \(manifest.output.count) outputs (\(manifest.output.map(\.name).joined(separator: ", "))), which one .npy file cannot hold; write an .h5 file")
            }
        }
        if let volume = job.volume {
            guard volume.hasSuffix(".nii") || volume.hasSuffix(".nii.gz") else {
                throw BERGError.invalidArgument(name: "volume", value: volume, message: "name it .nii or .nii.gz")
            }
            guard manifest.placement == .volume else {
                throw BERGError.invalidArgument(name: "volume", value: volume, message: "\(job.modelID)'s responses are not placed on a voxel grid\(manifest.placement.map { " (they lie on a \($0.rawValue.replacingOccurrences(of: "_", with: " ")))" } ?? ""), so they cannot be written as a volume")
            }
        }
        if let picture = job.picture {
            guard URL(fileURLWithPath: picture).pathExtension.lowercased() == "png" else {
                throw BERGError.invalidArgument(name: "picture", value: picture, message: "name it .png")
            }
            guard manifest.placement == .visualField else {
                throw BERGError.invalidArgument(name: "picture", value: picture, message: "\(job.modelID) has no picture: a response picture needs outputs in the visual field (pRF models such as fmri-kay2013-css_prf)")
            }
        }
        let paths = job.outputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if Set(paths).count != paths.count {
            throw BERGError.invalidArgument(name: "outputs", value: job.outputs.joined(separator: ", "), message: "two outputs name the same file")
        }
        for path in job.outputs { try BERG.checkWritable(path) }
        guard FileManager.default.fileExists(atPath: job.input) else {
            throw BERGError.fileNotFound(path: job.input, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        return manifest
    }

    /// Runs a job: checks it, decodes the images while the model loads, encodes, and writes
    /// every file it names. On any failure no file of the job is left behind.
    @discardableResult
    public func run(_ job: EncodeJob, progress: ProgressReporter? = nil) throws -> EncodingResult {
        try check(job)
        // The images decode while the model loads: both are mostly file reading, and the
        // model's loading runs on one thread.
        let input = job.input
        let loading = InBackground { try StimulusLoader.loadRuns(input, threads: BERG.threadCount) }
        let model = try getEncodingModel(job.modelID, subject: job.subject, selection: job.selection,
                                         options: job.options, device: job.device)
        let result = try encode(model, loading.result(), batchSize: job.batchSize, progress: progress)
        var written: [String] = []
        do {
            try write(result, to: job.output, includeMetadata: job.includeMetadata,
                      attributes: ["device": model.device.rawValue, "input": job.input])
            written.append(job.output)
            if let volume = job.volume {
                try BERG.writeResponseVolume(result, to: volume)
                written.append(volume)
            }
            if let picture = job.picture {
                try BERG.writeResponsePicture(result, to: picture)
                written.append(picture)
            }
        } catch {
            for path in written { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
        return result
    }

    /// An output path whose folder exists and is writable, and which is not itself a folder.
    static func checkWritable(_ path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder) does not exist; create it first")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder) is not writable")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw BERGError.invalidArgument(name: "output", value: path, message: "this is a folder; give a file name")
        }
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
