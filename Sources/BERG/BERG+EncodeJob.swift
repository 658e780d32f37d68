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
    /// An image, a folder of images, a text file listing images, a uint8 `.npy` array, or a
    /// movie (`MovieReader.isMovie`).
    public var input: String
    /// `.npy` (one output), `.npz` (one array per output), `.h5`, or `.nii`/`.nii.gz` (the
    /// responses as a 4-D volume, for volume-placed models).
    public var output: String
    /// Also a 4-D NIfTI of the responses on the model's voxel grid (volume-placed models).
    public var volume: String?
    /// Also a PNG of the responses on the visual field (pRF models).
    public var picture: String?
    /// Also GIfTI files `PREFIX.<output>.func.gii` (surface models: `PREFIX.lh.func.gii` and
    /// `PREFIX.rh.func.gii`), one float32 array per stimulus over all of the mesh's vertices,
    /// NaN where no vertex was selected.
    public var surface: String?
    /// Also the model's metadata, in the `.h5` output.
    public var includeMetadata: Bool
    public var batchSize: Int
    /// Go on past image files that cannot be read (their responses are NaN, and they are
    /// listed), instead of stopping at the first.
    public var skipUnreadable: Bool
    /// Receives warnings, such as files passed over.
    public var warn: (@Sendable (String) -> Void)?
    /// Only this part of the input (`--shard K/N`): contiguous, in input order, chosen before
    /// any image is decoded (see `ShardedSource`).
    public var shard: Shard?
    /// More root attributes for the `.h5` output (a shard task's plan hash).
    public var attributes: [String: String]
    /// A movie input's frames per second (nil: 2, img2fmri's rate); images take none.
    public var fps: Double?
    /// Convolve a movie's responses with img2fmri's haemodynamic response.
    public var hrf: Bool

    public init(modelID: String, subject: Subject, selection: Selection = [:], options: EncodingOptions = [:],
                device: Device = .auto, input: String, output: String, volume: String? = nil, picture: String? = nil,
                surface: String? = nil, includeMetadata: Bool = false, batchSize: Int = 64, skipUnreadable: Bool = false,
                shard: Shard? = nil, attributes: [String: String] = [:],
                warn: (@Sendable (String) -> Void)? = nil, fps: Double? = nil, hrf: Bool = true) {
        self.modelID = modelID
        self.subject = subject
        self.selection = selection
        self.options = options
        self.device = device
        self.input = input
        self.output = output
        self.volume = volume
        self.picture = picture
        self.surface = surface
        self.includeMetadata = includeMetadata
        self.batchSize = batchSize
        self.skipUnreadable = skipUnreadable
        self.warn = warn
        self.shard = shard
        self.attributes = attributes
        self.fps = fps
        self.hrf = hrf
    }

    /// Every file the job writes; the surface files are named after the model's outputs.
    public func outputs(for manifest: Manifest) -> [String] {
        [output] + [volume, picture].compactMap { $0 } + surfaceFiles(for: manifest).map(\.path)
    }

    /// `PREFIX.<output>.func.gii` for each of the model's outputs, with `surface`.
    public func surfaceFiles(for manifest: Manifest) -> [(output: String, path: String)] {
        guard let surface else { return [] }
        return manifest.output.map { ($0.name, "\(surface).\($0.name).func.gii") }
    }
    /// Whether the input is a movie (by its extension, or because a frame rate was given).
    public var isMovie: Bool { fps != nil || MovieReader.isMovie(input) }

    /// Whether the output is a NIfTI volume rather than an array file.
    public var writesVolume: Bool { BERG.isNIfTI(output) }
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
        guard ["npy", "npz", "h5", "hdf5"].contains(outputExtension) || job.writesVolume else {
            throw BERGError.invalidArgument(name: "output", value: job.output, message: "it must end in .npy, .npz or .h5, or in .nii or .nii.gz for a volume (.npy: the one response array; .npz: one array per output; .h5: responses, stimulus names, attributes and metadata; .nii(.gz): a 4-D volume, for models placed on a voxel grid)")
        }
        if job.writesVolume {
            guard manifest.placement == .volume else {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "\(job.modelID)'s responses are not placed on a voxel grid, so they cannot be written as a volume; write .npy, .npz or .h5")
            }
            if job.includeMetadata {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "a NIfTI volume holds only the responses; write an .h5 file to include the metadata")
            }
        }
        if let fps = job.fps {
            guard fps > 0, fps.isFinite, fps <= 1000 else {
                throw BERGError.invalidArgument(name: "fps", value: String(fps), message: "a movie's frames per second must be a positive number up to 1000")
            }
            guard MovieReader.isMovie(job.input) else {
                throw BERGError.invalidArgument(name: "fps", value: String(fps), message: "the frame rate applies to a movie input (.mp4, .mov, .avi, .mkv, .webm, …), and \(job.input) is not one")
            }
        }
        if outputExtension == "npy" || outputExtension == "npz" {
            if job.includeMetadata {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "a .\(outputExtension) file holds only the responses; write an .h5 file to include the metadata")
            }
            if outputExtension == "npy", manifest.output.count > 1 {
                throw BERGError.invalidArgument(name: "output", value: job.output, message: "\(job.modelID) gives \(manifest.output.count) outputs (\(manifest.output.map(\.name).joined(separator: ", "))), which one .npy file cannot hold; write an .npz file (one array per output) or an .h5 file")
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
        if let surface = job.surface {
            guard manifest.placement == .surface else {
                throw BERGError.invalidArgument(name: "surface", value: surface, message: "\(job.modelID)'s responses are not placed on a surface mesh\(manifest.placement.map { " (they lie on a \($0.rawValue.replacingOccurrences(of: "_", with: " ")))" } ?? ""), so they cannot be written as GIfTI; surface models such as fmri-nsd_fsaverage-vit_b_32 can")
            }
            guard !surface.hasSuffix("/"), !URL(fileURLWithPath: surface).lastPathComponent.isEmpty else {
                throw BERGError.invalidArgument(name: "surface", value: surface, message: "give a file prefix such as out/responses (PREFIX.lh.func.gii and PREFIX.rh.func.gii are written)")
            }
        }
        let outputs = job.outputs(for: manifest)
        let paths = outputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if Set(paths).count != paths.count {
            throw BERGError.invalidArgument(name: "outputs", value: outputs.joined(separator: ", "), message: "two outputs name the same file")
        }
        for path in outputs { try BERG.checkWritable(path) }
        guard FileManager.default.fileExists(atPath: job.input) else {
            throw BERGError.fileNotFound(path: job.input, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        if let shard = job.shard {
            guard !job.isMovie else {
                throw BERGError.invalidArgument(name: "shard", value: shard.description, message: "a movie's responses are convolved over time, across any shard's edges; encode the movie whole")
            }
            _ = try ShardedSource(StimulusLoader.source(job.input), shard: shard, batchSize: job.batchSize)
        }
        return manifest
    }

    /// Runs a job: checks it, lists the images, loads the model, and encodes a batch at a time,
    /// writing every file as the batches come (memory does not grow with the number of images).
    /// On any failure no file of the job is left behind. Returns what was written besides the
    /// responses (metadata, names, placement).
    @discardableResult
    public func run(_ job: EncodeJob, progress: ProgressReporter? = nil) throws -> EncodingSummary {
        try check(job)
        let fps = job.fps ?? 2
        let movie = job.isMovie ? try BERG.loadMovie(job.input, fps: fps) : nil
        let source: any StimulusSource
        var shard: ShardedSource? = nil
        if let movie {
            source = StimulusArray(movie.stimulus)
        } else {
            let images = try StimulusLoader.source(job.input, skipUnreadable: job.skipUnreadable, threads: BERG.threadCount)
            for warning in images.warnings { job.warn?(warning) }
            shard = try job.shard.map { try ShardedSource(images, shard: $0, batchSize: job.batchSize) }
            // The first batch decodes while the model loads (both mostly read files).
            source = FirstBatchAhead(shard ?? images, batchSize: job.batchSize)
        }
        let count = shard?.range.count ?? source.count
        let timeStep = movie == nil ? nil : 1 / fps
        let model = try getEncodingModel(job.modelID, subject: job.subject, selection: job.selection,
                                         options: job.options, device: job.device)
        var sinks: [ResultSink] = []
        do {
            let manifest = try registry.manifest(job.modelID)
            var attributes = ["device": HDF5File.AttributeValue.string(model.device.rawValue), "input": .string(job.input)]
            if let shard = job.shard { attributes["shard"] = .string(shard.description) }
            for (key, value) in job.attributes { attributes[key] = .string(value) }
            if job.writesVolume {
                sinks.append(try VolumeWriter(path: job.output, count: count, placement: model.placement, timeStep: timeStep))
            } else {
                sinks.append(try ResultWriter.writer(for: job.output, count: count, outputs: manifest.output.map(\.name),
                                                     attributes: attributes, includeMetadata: job.includeMetadata))
            }
            if let volume = job.volume {
                sinks.append(try VolumeWriter(path: volume, count: count, placement: model.placement, timeStep: timeStep))
            }
            if let picture = job.picture { sinks.append(PictureWriter(path: picture)) }
            for (output, path) in job.surfaceFiles(for: manifest) {
                sinks.append(try SurfaceWriter(path: path, output: output, names: shard?.ownNames ?? source.names, placement: model.placement,
                                               modelID: job.modelID))
            }
        } catch {
            for sink in sinks { sink.discard() }
            throw error
        }
        // A movie's frames pass through its time course (HRF, frame times) on their way out; a
        // shard's covering batches leave only its own rows.
        let targets = try movie.map { [try MovieTimeCourse(movie: $0, fps: fps, hrf: job.hrf, sinks: sinks)] }
            ?? shard.map { [$0.keepingOwnRows(sinks)] } ?? sinks
        var summary = try encode(model, source, batchSize: job.batchSize, progress: progress, into: targets)
        if let shard { summary = shard.narrowed(summary) }
        for warning in summary.warnings { job.warn?(warning) }
        if let unreadable = summary.metadata.strings("unreadable_stimuli") {
            job.warn?("\(unreadable.count) image(s) could not be read; their responses are NaN: \(unreadable.prefix(5).joined(separator: "; "))\(unreadable.count > 5 ? "; …" : "")")
        }
        return summary
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

/// A stimulus source whose first batch starts decoding as soon as it is made.
final class FirstBatchAhead: StimulusSource, @unchecked Sendable {
    let source: any StimulusSource
    let first: Range<Int>
    private let loading: InBackground<[StimulusRun]>?
    private let lock = NSLock()
    private var taken = false

    init(_ source: any StimulusSource, batchSize: Int) {
        self.source = source
        first = 0 ..< min(max(batchSize, 1), source.count)
        let range = first
        loading = range.isEmpty ? nil : InBackground { try source.load(range) }
    }

    var count: Int { source.count }
    var names: [String] { source.names }

    func load(_ range: Range<Int>) throws -> [StimulusRun] {
        lock.lock()
        let ahead = range == first && !taken ? loading : nil
        if ahead != nil { taken = true }
        lock.unlock()
        return try ahead?.result() ?? source.load(range)
    }
}
