import ArgumentParser
import BERG
import Foundation

struct RunTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-task", abstract: "Run one task of a plan (what each Slurm array task runs).",
        discussion: """
        Encodes one shard of one (subject, selection) of a plan written by `berg plan`, into \
        OUT/shards/<subject>_<selection>_<K>-of-<N>.h5 (through a temporary name), with the plan's \
        hash in its attributes. A task whose output is already there, whole and from this plan, \
        is skipped, so a rerun after preemption redoes only what is missing. The task's input \
        files must be the ones planned (same size and SHA-256).

        While it works, OUT/tasks/<index>.running is touched every 30 s; when it fails, or is \
        stopped by SIGTERM (scancel, preemption, a time limit), OUT/tasks/<index>.failed says \
        why. `berg status OUT` reads them.

        Examples:
          berg run-task nsd-fwrf/plan.json "$SLURM_ARRAY_TASK_ID"
          berg run-task nsd-fwrf/plan.json 17          # one task by hand
        """)

    @Argument(help: "The plan: OUT/plan.json, or the folder OUT.")
    var plan: String

    @Argument(help: "The task's index, 0 to tasks − 1 ($SLURM_ARRAY_TASK_ID).")
    var taskIndex: Int

    @Option(help: "CPU threads (default: BERG_NUM_THREADS, which the sbatch script sets from --cpus-per-task, else all cores).",
            transform: ComputeOptions.threadCount)
    var threads: Int?

    func validate() throws { try BERG.checkThreadSetting(threads) }

    func run() throws {
        try BERG.configureThreads(threads)
        let plan = try ShardPlan.read(self.plan)
        let task = try plan.task(taskIndex)
        // scancel and preemption send SIGTERM: say so in the task's marker before going.
        let stops = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                plan.abandon(task: task.index, signal: signalNumber)
                writeStderr("berg run-task: task \(task.index) stopped by signal \(signalNumber)\n")
                _exit(128 + signalNumber)
            }
            source.resume()
            return source
        }
        defer { stops.forEach { $0.cancel() } }
        let berg = try BERG(plan: plan, storeOptions: StoreFlags.environmentOptions())
        let progress = try ProgressDisplay.fromEnvironment()
        let outcome = try berg.runTask(plan, index: taskIndex, progress: progress)
        progress.end()
        let what = "task \(task.index) (\(task.name), images \(task.first)–\(task.first + task.count - 1))"
        if outcome.skipped {
            writeStderr("\(what): already done, skipped (\(outcome.output.path))\n")
        } else {
            let rate = Double(task.count) / max(outcome.seconds, 1e-9)
            writeStderr(String(format: "%@: wrote %@ in %.2f s (%.1f images/s, start-up and model load included)\n",
                               what, outcome.output.path, outcome.seconds, rate))
        }
    }
}
