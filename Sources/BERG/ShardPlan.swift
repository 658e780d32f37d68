import BERGCore
import BERGFormats
import Crypto
import Foundation

/// A sharded encoding job, as `berg plan` writes it to `OUT/plan.json`: one model, the input
/// images listed once (with each file's size and SHA-256), split into `shards` contiguous
/// parts, and one task per (subject, selection, shard). A task's output carries the plan's
/// `hash`, so that shards of another plan (another input, model or option) are never mixed in.
///
///     OUT/
///     ├── plan.json                       this plan
///     ├── berg-array.sbatch               the Slurm job array: one array task per plan task
///     ├── shards/1_V1_2-of-3.h5           task outputs: <subject>_<selection>_<K>-of-<N>.h5
///     ├── tasks/4.running, tasks/4.failed markers: a task at work (with a heartbeat), or why it failed
///     └── logs/<job>_<task>.log           what each array task printed
public struct ShardPlan: Codable, Sendable, Equatable {
    public static let fileName = "plan.json"
    public static let scriptName = "berg-array.sbatch"
    public static let shardFolder = "shards"
    public static let markerFolder = "tasks"
    public static let logFolder = "logs"
    public static let format = 1

    public var format: Int
    /// SHA-256 (hex) of everything here that decides the outputs (not the Slurm settings).
    public var hash: String
    public var bergVersion: String
    public var modelID: String
    /// Encoding options as `NAME=VALUE` text, read again with the manifest's types by each task.
    public var options: [String]
    public var device: Device
    public var batchSize: Int
    public var includeMetadata: Bool
    /// Extra registry folders (`--registry`), absolute.
    public var registries: [String]
    /// `--berg-dir` / `BERG_DIR` at plan time, absolute.
    public var bergDir: String?
    /// `--artifact NAME=PATH`, absolute paths.
    public var artifacts: [String: String]
    /// The input as given to `berg plan`, absolute.
    public var input: String
    /// The input's files, in input order: one per image, or one `.npy` holding them all.
    public var files: [InputFile]
    public var stimulusCount: Int
    public var shards: Int
    public var tasks: [ShardTask]
    /// How the array job is submitted; not part of the hash.
    public var slurm: SlurmSettings

    /// The folder the plan was read from or written to (not stored).
    public var folder = URL(fileURLWithPath: ".")

    enum CodingKeys: String, CodingKey {
        case format, hash, bergVersion = "berg_version", modelID = "model_id", options, device
        case batchSize = "batch_size", includeMetadata = "include_metadata", registries
        case bergDir = "berg_dir", artifacts, input, files, stimulusCount = "stimulus_count", shards, tasks, slurm
    }

    /// One input file: where it is, its size, and its SHA-256 at plan time.
    public struct InputFile: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int
        public var sha256: String
    }

    /// How tasks are run by Slurm.
    public struct SlurmSettings: Codable, Sendable, Equatable {
        public var cpusPerTask: Int
        public var memoryMB: Int
        /// How `memoryMB` was estimated, in words.
        public var memoryEstimate: String
        /// Extra `#SBATCH` options, such as `--partition=short` or `--account=lab`.
        public var sbatchOptions: [String]
        /// The `berg` executable the tasks run, absolute.
        public var executable: String
        /// The model-file cache the tasks share (`BERG_HOME`).
        public var bergHome: String

        enum CodingKeys: String, CodingKey {
            case cpusPerTask = "cpus_per_task", memoryMB = "memory_mb", memoryEstimate = "memory_estimate"
            case sbatchOptions = "sbatch_options", executable, bergHome = "berg_home"
        }
    }

    public var planPath: URL { folder.appendingPathComponent(ShardPlan.fileName) }
    public var scriptPath: URL { folder.appendingPathComponent(ShardPlan.scriptName) }

    /// A task's output file.
    public func outputPath(_ task: ShardTask) -> URL { folder.appendingPathComponent(task.output) }

    /// The task with this index, or an error naming the valid ones.
    public func task(_ index: Int) throws -> ShardTask {
        guard tasks.indices.contains(index) else {
            throw BERGError.invalidArgument(name: "task index", value: String(index),
                                            message: "this plan has tasks 0–\(tasks.count - 1) (\(planPath.path))")
        }
        return tasks[index]
    }

    /// The tasks of each (subject, selection), in plan order, their shards in order.
    public var outputs: [(subject: Int, selection: [String: String], label: String, tasks: [ShardTask])] {
        var order: [String] = []
        var groups: [String: [ShardTask]] = [:]
        for task in tasks {
            if groups[task.label] == nil { order.append(task.label) }
            groups[task.label, default: []].append(task)
        }
        return order.map { label in
            let tasks = groups[label]!.sorted { $0.shard < $1.shard }
            return (tasks[0].subject, tasks[0].selection, label, tasks)
        }
    }

    // MARK: - Hash, reading and writing

    /// SHA-256 of the plan's JSON without its hash and Slurm settings.
    func computedHash() throws -> String {
        var content = self
        content.hash = ""
        content.slurm = SlurmSettings(cpusPerTask: 0, memoryMB: 0, memoryEstimate: "", sbatchOptions: [], executable: "", bergHome: "")
        return SHA256.hash(data: try ShardPlan.encoder.encode(content)).map { String(format: "%02x", $0) }.joined()
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Reads `OUT/plan.json` (or the plan in folder `OUT`) and checks its hash.
    public static func read(_ path: String) throws -> ShardPlan {
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        let file = isFolder.boolValue ? URL(fileURLWithPath: path).appendingPathComponent(fileName) : URL(fileURLWithPath: path)
        guard exists, let data = FileManager.default.contents(atPath: file.path) else {
            throw BERGError.fileNotFound(path: file.path, hint: "`berg plan … --output-dir OUT` writes OUT/\(fileName)")
        }
        var plan: ShardPlan
        do { plan = try JSONDecoder().decode(ShardPlan.self, from: data) } catch {
            throw BERGError.corruptFile(path: file.path, offset: nil, message: "not a plan written by `berg plan`: \(error)")
        }
        guard plan.format == format else {
            throw BERGError.unexpectedContent(path: file.path, message: "plan format \(plan.format); this BERG reads format \(format): plan again with this version")
        }
        guard try plan.computedHash() == plan.hash else {
            throw BERGError.unexpectedContent(path: file.path, message: "the plan was edited after `berg plan` wrote it (its hash no longer matches); plan again instead of editing it")
        }
        plan.folder = file.deletingLastPathComponent().standardizedFileURL
        return plan
    }

    /// Writes plan.json and the sbatch script into `folder`, creating it and its `shards`,
    /// `tasks` and `logs` folders.
    mutating func write(to folder: URL) throws {
        self.folder = folder.standardizedFileURL
        for sub in ["", ShardPlan.shardFolder, ShardPlan.markerFolder, ShardPlan.logFolder] {
            try BERG.createFolder(folder.appendingPathComponent(sub).path)
        }
        try AtomicFile.write(ShardPlan.encoder.encode(self) + Data("\n".utf8), to: planPath.path)
        try AtomicFile.write(Data(sbatchScript().utf8), to: scriptPath.path)
    }
}

/// One array task: shard `shard` of `shards` of the input for one (subject, selection).
public struct ShardTask: Codable, Sendable, Equatable {
    /// Its array index (`$SLURM_ARRAY_TASK_ID`), 0-based.
    public var index: Int
    public var subject: Int
    public var selection: [String: String]
    /// `<subject>_<selection>`, as output names carry it.
    public var label: String
    /// K of N, 1-based.
    public var shard: Int
    /// The input positions it encodes: `first ..< first + count`.
    public var first: Int
    public var count: Int
    /// Its output, relative to the plan's folder.
    public var output: String

    public var range: Range<Int> { first ..< first + count }

    /// `shards/1_V1_2-of-3.h5` and the like.
    public var name: String { URL(fileURLWithPath: output).deletingPathExtension().lastPathComponent }
}
