import BERGCore
import BERGFormats
import BERGRegistry
import BERGStore
import Crypto
import Foundation

/// What `berg plan` is asked for: one model, some subjects and selections, an input split
/// into `shards`, written to `outputFolder`.
public struct ShardPlanRequest: Sendable {
    public var modelID: String
    public var subjects: [Subject]
    public var selections: [Selection]
    /// Encoding options as `NAME=VALUE` text (`--option`).
    public var options: [String]
    public var device: Device
    public var input: String
    public var shards: Int
    public var outputFolder: String
    public var batchSize: Int
    public var includeMetadata: Bool
    /// The registry folders this facade was made with, recorded for the tasks.
    public var registries: [URL]
    /// Threads per task; nil for the estimate (see `TaskResourceEstimate`).
    public var cpusPerTask: Int?
    /// Extra `#SBATCH` options (`--partition=short`, `account=lab`).
    public var sbatchOptions: [String]
    /// The `berg` executable the tasks run.
    public var executable: String

    public init(modelID: String, subjects: [Subject], selections: [Selection], options: [String] = [],
                device: Device = .auto, input: String, shards: Int, outputFolder: String, batchSize: Int = 64,
                includeMetadata: Bool = false, registries: [URL] = [], cpusPerTask: Int? = nil,
                sbatchOptions: [String] = [], executable: String = "berg") {
        self.modelID = modelID
        self.subjects = subjects
        self.selections = selections
        self.options = options
        self.device = device
        self.input = input
        self.shards = shards
        self.outputFolder = outputFolder
        self.batchSize = batchSize
        self.includeMetadata = includeMetadata
        self.registries = registries
        self.cpusPerTask = cpusPerTask
        self.sbatchOptions = sbatchOptions
        self.executable = executable
    }
}

/// How one run of a task ended.
public struct TaskOutcome: Sendable {
    public var task: ShardTask
    public var output: URL
    /// The output was already there, whole and from this plan.
    public var skipped: Bool
    public var seconds: Double
}

extension BERG {
    /// A facade for a plan's tasks: the plan's registry folders, and its `--berg-dir` and
    /// `--artifact` files on top of `storeOptions` (the environment's `BERG_*` variables). The
    /// cache is `BERG_HOME` where it is set (the sbatch script sets it), else the planner's.
    public convenience init(plan: ShardPlan, storeOptions: StoreOptions,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var options = storeOptions
        if let bergDir = plan.bergDir { options.bergDir = URL(fileURLWithPath: bergDir) }
        for (name, path) in plan.artifacts { options.overrides[name] = URL(fileURLWithPath: path) }
        let home = environment["BERG_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
        try self.init(home: home ?? URL(fileURLWithPath: plan.slurm.bergHome),
                      registries: plan.registries.map { URL(fileURLWithPath: $0) }, storeOptions: options)
    }

    /// Every subject a model lists (`--all-subjects`).
    public func allSubjects(_ id: String) throws -> [Subject] {
        try registry.manifest(id).subjects
    }

    /// `base` with each ROI in turn: `rois`, or every ROI the manifest lists when nil
    /// (`--all-rois`); `base` alone when `rois` is empty. A model without an `roi` key takes
    /// no ROIs.
    public func roiSelections(_ id: String, rois: [String]?, base: Selection = [:]) throws -> [Selection] {
        let manifest = try registry.manifest(id)
        if let rois, rois.isEmpty { return [base] }
        guard let roiSpec = manifest.parameters.selection.properties["roi"] else {
            if let rois, !rois.isEmpty {
                throw BERGError.invalidSelection(model: id, message: "it takes no ROI; its selection keys are: \(manifest.parameters.selection.orderedKeys.joined(separator: ", "))")
            }
            return [base]
        }
        let chosen = rois ?? roiSpec.validStrings
        return chosen.map { var selection = base; selection["roi"] = $0; return selection }
    }

    // MARK: - berg plan

    /// Plans a sharded job and writes `plan.json` and `berg-array.sbatch` into the request's
    /// folder. Everything a task would trip over is checked here, before 184 array tasks trip
    /// over it: the model, subjects, selections and options; that the model's files are
    /// available (or may be downloaded); and that every input image can be read and decoded.
    /// Usage errors (`invalidArgument`, `invalidParameter`, …) come out as such.
    @discardableResult
    public func planShards(_ request: ShardPlanRequest) throws -> ShardPlan {
        let manifest = try registry.manifest(request.modelID)
        let options = try parseOptions(request.modelID, request.options)
        guard !request.subjects.isEmpty else {
            throw BERGError.invalidArgument(name: "subjects", value: "", message: "give at least one subject (\(manifest.subjects.map(\.description).joined(separator: ", ")))")
        }
        guard request.batchSize >= 1 else {
            throw BERGError.invalidArgument(name: "batch size", value: String(request.batchSize), message: "must be at least 1")
        }
        guard (request.cpusPerTask ?? 1) >= 1 else {
            throw BERGError.invalidArgument(name: "cpus per task", value: String(request.cpusPerTask ?? 0), message: "must be at least 1")
        }
        let sbatchOptions = try request.sbatchOptions.map(ShardPlan.sbatchOption)
        let selections = request.selections.isEmpty ? [Selection()] : request.selections
        var pairs: [(Subject, Selection)] = []
        for subject in request.subjects {
            for selection in selections {
                let (context, _) = try prepare(request.modelID, subject: subject, selection: selection, options: options, device: request.device)
                if !pairs.contains(where: { $0.0 == subject && $0.1 == context.selection }) { pairs.append((subject, context.selection)) }
            }
        }
        let modelFileSizes = try checkModelFiles(manifest, pairs: pairs)

        // The input, listed, hashed and decoded once.
        let input = URL(fileURLWithPath: request.input).standardizedFileURL.path
        let source = try StimulusLoader.source(input)
        guard (1...max(1, source.count)).contains(request.shards) else {
            throw BERGError.invalidArgument(name: "shards", value: String(request.shards),
                                            message: "must be between 1 and the number of images (\(source.count) in \(input))")
        }
        let (files, pixels) = try BERG.inspect(source, input: input)

        var tasks: [ShardTask] = []
        for (subject, selection) in pairs {
            let label = "\(subject.number)_\(BERG.selectionLabel(selection, manifest: manifest))"
            for k in 1...request.shards {
                let range = try Shard(k, of: request.shards).range(in: source.count, batchSize: request.batchSize)
                tasks.append(ShardTask(index: tasks.count, subject: subject.number, selection: selection.values, label: label,
                                       shard: k, first: range.lowerBound, count: range.count,
                                       output: "\(ShardPlan.shardFolder)/\(label)_\(k)-of-\(request.shards).h5"))
            }
        }
        var estimate = TaskResourceEstimate(kind: manifest.encoder.kind, hasWeights: !manifest.artifacts.isEmpty,
                                            fileSizes: modelFileSizes, batchSize: request.batchSize, largestImagePixels: pixels.max() ?? 0)
        if let cpus = request.cpusPerTask { estimate.cpus = cpus }

        let store = try? artifactStore
        var plan = ShardPlan(
            format: ShardPlan.format, hash: "", bergVersion: BERG.version, modelID: request.modelID,
            options: options.values.keys.sorted().map { "\($0)=\(options.values[$0]!)" },
            device: request.device, batchSize: request.batchSize, includeMetadata: request.includeMetadata,
            registries: request.registries.map { $0.standardizedFileURL.path },
            bergDir: store?.options.bergDir?.standardizedFileURL.path,
            artifacts: (store?.options.overrides ?? [:]).mapValues { $0.standardizedFileURL.path },
            input: input, files: files, stimulusCount: source.count, shards: request.shards, tasks: tasks,
            slurm: .init(cpusPerTask: estimate.cpus, memoryMB: estimate.memoryMB, memoryEstimate: estimate.explanation,
                         sbatchOptions: sbatchOptions, executable: request.executable,
                         bergHome: (store?.home ?? BERG.defaultHome()).standardizedFileURL.path))
        plan.hash = try plan.computedHash()
        try plan.write(to: URL(fileURLWithPath: request.outputFolder))
        return plan
    }

    /// `V1`; several keys in the manifest's order joined by `+`; `all` for no selection.
    static func selectionLabel(_ selection: Selection, manifest: Manifest) -> String {
        let keys = manifest.parameters.selection.orderedKeys.filter { selection[$0] != nil }
            + selection.values.keys.sorted().filter { !manifest.parameters.selection.orderedKeys.contains($0) }
        let label = keys.map { selection[$0]! }.joined(separator: "+")
        return label.isEmpty ? "all" : label.replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: " ", with: "-")
    }

    /// The size of each (subject, selection)'s model files, in bytes (nil where unknown),
    /// for the pair whose files are largest. With `BERG_OFFLINE=1`, a file that is neither
    /// cached nor given is an error now rather than in every task.
    private func checkModelFiles(_ manifest: Manifest, pairs: [(Subject, Selection)]) throws -> [Int?] {
        guard !manifest.artifacts.isEmpty, let store = try? artifactStore else { return [] }
        var largest: [Int?] = []
        for (subject, selection) in pairs {
            let files = try store.plan(for: manifest, subject: subject, selection: selection)
            let sizes: [Int?] = files.map { file in
                let onDisk = (try? FileManager.default.attributesOfItem(atPath: file.local.path))?[.size] as? NSNumber
                return onDisk?.intValue ?? file.size
            }
            if store.options.offline, let missing = files.first(where: { !FileManager.default.fileExists(atPath: $0.local.path) }) {
                throw BERGError.artifactMissing(name: missing.artifact, message: "\(missing.local.path) (subject \(subject), \(selection)) is not in the cache and BERG_OFFLINE=1 forbids downloading it; fetch it first with `berg get-model \(manifest.modelID)` on a machine with network, into the BERG_HOME the tasks share")
            }
            if sizes.compactMap({ $0 }).reduce(0, +) >= largest.compactMap({ $0 }).reduce(0, +) { largest = sizes }
        }
        return largest
    }

    /// Each input file's size and SHA-256, and each image's pixel count, from one read of
    /// each file; every image is decoded once, so that an unreadable one fails the plan. All
    /// unreadable files are named together.
    static func inspect(_ source: any StimulusSource, input: String) throws -> (files: [ShardPlan.InputFile], pixels: [Int]) {
        if let array = source as? NPYStimulusSource {
            let data = try NPYFile.readFile(array.path)
            let file = ShardPlan.InputFile(path: array.path, bytes: data.count, sha256: sha256Hex(data))
            return ([file], Array(repeating: array.width * array.height, count: array.count))
        }
        guard let images = source as? ImageFileSource else {
            throw BERGError.invalidArgument(name: "input", value: input, message: "give a folder of images, a text file listing images, an image or a .npy array")
        }
        let results = try concurrentMap(images.paths, threads: BERG.threadCount) { path -> Result<(ShardPlan.InputFile, Int), BERGError> in
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure(.fileNotFound(path: path, hint: "cannot be read"))
            }
            do {
                let image = try ImageCodec.decodeImage(data, path: path)
                return .success((ShardPlan.InputFile(path: path, bytes: data.count, sha256: sha256Hex(data)), image.width * image.height))
            } catch let error as BERGError {
                return .failure(error)
            } catch {
                return .failure(.corruptFile(path: path, offset: nil, message: String(describing: error)))
            }
        }
        var problems: [String] = []
        for (path, result) in zip(images.paths, results) {
            if case .failure(let error) = result { problems.append("\(URL(fileURLWithPath: path).lastPathComponent) (\(error.message))") }
        }
        guard problems.isEmpty else {
            throw BERGError.invalidArgument(name: "input", value: input, message: "\(problems.count) of \(images.paths.count) images cannot be read: \(problems.prefix(10).joined(separator: "; "))\(problems.count > 10 ? "; and \(problems.count - 10) more" : ""). Fix or remove them, then plan again")
        }
        let inspected = results.compactMap { try? $0.get() }
        return (inspected.map(\.0), inspected.map(\.1))
    }

    static func sha256Hex(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - berg run-task

    /// Runs one task of a plan: skips it when its output is already there, whole and from
    /// this plan; otherwise checks that its input files are the ones planned, encodes its shard
    /// and writes `OUT/shards/<subject>_<selection>_<K>-of-<N>.h5` (through a temporary name),
    /// with the plan's hash in its attributes. While it works, `OUT/tasks/<index>.running` is
    /// touched every `ShardPlan.heartbeat` seconds; a failure leaves `OUT/tasks/<index>.failed`
    /// with the message.
    @discardableResult
    public func runTask(_ plan: ShardPlan, index: Int, progress: ProgressReporter? = nil) throws -> TaskOutcome {
        let started = Date()
        let task = try plan.task(index)
        let output = plan.outputPath(task)
        if case .complete = plan.checkOutput(task) {
            return TaskOutcome(task: task, output: output, skipped: true, seconds: Date().timeIntervalSince(started))
        }
        let heartbeat = try plan.markRunning(task)
        defer { heartbeat.cancel() }
        do {
            try plan.checkInputUnchanged(for: task)
            let job = EncodeJob(modelID: plan.modelID, subject: Subject(task.subject), selection: Selection(task.selection),
                                options: try parseOptions(plan.modelID, plan.options), device: plan.device,
                                input: plan.input, output: output.path, includeMetadata: plan.includeMetadata,
                                batchSize: plan.batchSize, shard: try Shard(task.shard, of: plan.shards),
                                attributes: ["plan_hash": plan.hash, "task_index": String(task.index)])
            try run(job, progress: progress)
            plan.clearMarkers(task)
        } catch {
            plan.markFailed(task, message: (error as? BERGError)?.message ?? String(describing: error))
            throw error
        }
        return TaskOutcome(task: task, output: output, skipped: false, seconds: Date().timeIntervalSince(started))
    }
}
