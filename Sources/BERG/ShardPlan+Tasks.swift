import BERGCore
import BERGFormats
import Foundation

/// Where each task of a plan stands: its output file, and the markers a running or failed
/// task leaves in `OUT/tasks/`.
extension ShardPlan {
    /// Seconds between touches of a running task's marker; a marker untouched for three of
    /// these belongs to a task that was killed without a word (SIGKILL, out of memory, a lost node).
    public static let heartbeat: TimeInterval = 30

    /// A task's output file, as far as merging is concerned.
    public enum OutputState: Sendable, Equatable {
        case absent
        /// Whole, from this plan, one row per image of the shard; the response shapes by name.
        case complete(shapes: [String: [Int]])
        /// There, but not usable, and why.
        case unusable(String)
    }

    /// Reads a task's output's attributes and shapes (not its data).
    public func checkOutput(_ task: ShardTask) -> OutputState {
        let path = outputPath(task).path
        guard FileManager.default.fileExists(atPath: path) else { return .absent }
        do {
            let file = try HDF5File(path: path, mode: .read)
            defer { try? file.close() }
            guard case .string(let fileHash)? = try? file.attribute("plan_hash") else {
                return .unusable("has no plan hash: it was not written by `berg run-task`")
            }
            guard fileHash == hash else {
                return .unusable("comes from another plan (hash \(fileHash.prefix(12))…, this plan \(hash.prefix(12))…)")
            }
            var shapes: [String: [Int]] = [:]
            if try file.kind(of: "responses") == .dataset {
                shapes["responses"] = try file.info("responses").shape
            } else {
                for name in try file.children(of: "responses") { shapes[name] = try file.info("responses/\(name)").shape }
            }
            for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) where shape.first != task.count {
                return .unusable("holds \(name) \(shape), but the shard has \(task.count) images")
            }
            return .complete(shapes: shapes)
        } catch {
            return .unusable("cannot be read: \((error as? BERGError)?.message ?? String(describing: error))")
        }
    }

    /// Fails when any of the task's input files changed since the plan was made (size or
    /// SHA-256), or the input lists other files now.
    func checkInputUnchanged(for task: ShardTask) throws {
        let now = try StimulusLoader.source(input)
        let listed = (now as? ImageFileSource)?.paths ?? [(now as? NPYStimulusSource)?.path ?? input]
        guard listed == files.map(\.path), now.count == stimulusCount else {
            throw BERGError.invalidInput("The input \(input) changed since `berg plan`: it now lists \(now.count) images, the plan \(stimulusCount) (or other files). Plan again into a new folder, or restore the input")
        }
        // The files this task reads: the whole batches around its images, or the one array.
        let read = now is ImageFileSource
            ? Array(files[ShardedSource.covering(task.range, batchSize: batchSize, count: stimulusCount)]) : files
        for file in read {
            let data = FileManager.default.contents(atPath: file.path) ?? Data()
            guard data.count == file.bytes, BERG.sha256Hex(data) == file.sha256 else {
                throw BERGError.invalidInput("The input file \(file.path) changed since `berg plan` (\(data.count) bytes now, \(file.bytes) then; SHA-256 differs). Plan again into a new folder, or restore the file")
            }
        }
    }

    // MARK: - Markers

    struct TaskMarker: Codable {
        var plan: String
        var host: String
        var pid: Int32
        var slurmJob: String?
        var time: String
        var error: String?

        enum CodingKeys: String, CodingKey { case plan, host, pid, slurmJob = "slurm_job", time, error }
    }

    func markerPath(_ task: ShardTask, _ kind: String) -> URL {
        folder.appendingPathComponent(ShardPlan.markerFolder).appendingPathComponent("\(task.index).\(kind)")
    }

    private func writeMarker(_ task: ShardTask, _ kind: String, error: String? = nil) throws {
        let environment = ProcessInfo.processInfo.environment
        let job = environment["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(environment["SLURM_ARRAY_TASK_ID"] ?? "")" } ?? environment["SLURM_JOB_ID"]
        let marker = TaskMarker(plan: hash, host: ProcessInfo.processInfo.hostName, pid: getpid(), slurmJob: job,
                                time: ISO8601DateFormatter().string(from: Date()), error: error)
        try BERG.createFolder(markerPath(task, kind).deletingLastPathComponent().path)
        try AtomicFile.write(ShardPlan.encoder.encode(marker), to: markerPath(task, kind).path)
    }

    /// Writes `tasks/<index>.running` and touches it every `heartbeat` seconds until the
    /// returned timer is cancelled.
    func markRunning(_ task: ShardTask) throws -> DispatchSourceTimer {
        try writeMarker(task, "running")
        let path = markerPath(task, "running").path
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + ShardPlan.heartbeat, repeating: ShardPlan.heartbeat)
        timer.setEventHandler { _ = utimes(path, nil) }
        timer.resume()
        return timer
    }

    func clearMarkers(_ task: ShardTask) {
        for kind in ["running", "failed"] { try? FileManager.default.removeItem(at: markerPath(task, kind)) }
    }

    /// Records why a task failed, in place of its running marker.
    func markFailed(_ task: ShardTask, message: String) {
        try? writeMarker(task, "failed", error: message)
        try? FileManager.default.removeItem(at: markerPath(task, "running"))
    }

    /// For a task stopped by a signal (`scancel`, preemption, Ctrl-C): records it as failed
    /// and removes this process's half-written output. Safe to call from a signal handler's
    /// queue while the task's own thread is still at work.
    public func abandon(task index: Int, signal: Int32) {
        guard let task = try? task(index) else { return }
        let name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)"
        markFailed(task, message: "stopped by \(name) (scancel, preemption or a time limit)")
        let shards = outputPath(task).deletingLastPathComponent()
        let prefix = "." + outputPath(task).lastPathComponent + ".", mine = ".\(getpid())."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: shards.path)) ?? []
        where name.hasPrefix(prefix) && name.contains(mine) {
            try? FileManager.default.removeItem(at: shards.appendingPathComponent(name))
        }
    }

    private func readMarker(_ task: ShardTask, _ kind: String) -> (marker: TaskMarker, modified: Date)? {
        let url = markerPath(task, kind)
        guard let data = FileManager.default.contents(atPath: url.path),
              let marker = try? JSONDecoder().decode(TaskMarker.self, from: data), marker.plan == hash,
              let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
        else { return nil }
        return (marker, modified)
    }

    // MARK: - Status

    /// Where every task stands now.
    public func status(at now: Date = Date()) -> ShardStatus {
        let states: [ShardStatus.State] = tasks.map { task in
            switch checkOutput(task) {
            case .complete: return .done
            case .unusable(let why):
                if readMarker(task, "running").map({ now.timeIntervalSince($0.modified) < 3 * ShardPlan.heartbeat }) == true { return .running }
                return .missing("\(task.output) \(why)")
            case .absent:
                if let (marker, modified) = readMarker(task, "running") {
                    if now.timeIntervalSince(modified) < 3 * ShardPlan.heartbeat { return .running }
                    return .failed("stopped without a word on \(marker.host)\(marker.slurmJob.map { " (job \($0))" } ?? ""): no heartbeat since \(ISO8601DateFormatter().string(from: modified)); killed (SIGKILL, out of memory, node failure)?")
                }
                if let (marker, _) = readMarker(task, "failed") {
                    return .failed("\(marker.error ?? "failed") on \(marker.host)\(marker.slurmJob.map { " (job \($0))" } ?? "") at \(marker.time)")
                }
                return .missing(nil)
            }
        }
        return ShardStatus(plan: self, states: states)
    }
}

/// Where the tasks of a plan stand: done (output whole, from this plan), running (its marker
/// touched lately), failed (with why), or missing (never run, or its output unusable).
public struct ShardStatus: Sendable {
    public enum State: Sendable, Equatable {
        case done
        case running
        case failed(String)
        case missing(String?)
    }

    public var plan: ShardPlan
    /// One per task, by index.
    public var states: [State]

    public var done: [ShardTask] { plan.tasks.filter { states[$0.index] == .done } }
    public var running: [ShardTask] { plan.tasks.filter { states[$0.index] == .running } }
    public var failed: [(task: ShardTask, reason: String)] {
        plan.tasks.compactMap { if case .failed(let why) = states[$0.index] { return ($0, why) }; return nil }
    }
    public var missing: [(task: ShardTask, reason: String?)] {
        plan.tasks.compactMap { if case .missing(let why) = states[$0.index] { return ($0, why) }; return nil }
    }

    /// The failed and missing tasks: what a rerun submits.
    public var rerun: [Int] { (failed.map(\.task.index) + missing.map(\.task.index)).sorted() }

    /// `sbatch --array=… OUT/berg-array.sbatch` for the failed and missing tasks, or nil when none are.
    public var rerunCommand: String? { rerun.isEmpty ? nil : plan.sbatchCommand(tasks: rerun) }
}
