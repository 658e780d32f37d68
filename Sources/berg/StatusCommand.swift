import ArgumentParser
import BERG
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show which tasks of a plan are done, running, failed or missing.",
        discussion: """
        Done: its output is there, whole and from this plan. Running: its marker was touched in \
        the last 90 s. Failed: it reported an error or a stop signal, or its marker went quiet \
        (killed without a word). Missing: never run, or its output is unusable (another plan's). \
        Ends with the sbatch line that reruns the failed and missing tasks, or says that all are \
        done. Run it once the array has left the queue (squeue), so as not to rerun tasks that \
        are still waiting.

        Example:
          berg status nsd-fwrf
        """)

    @Argument(help: "The plan's folder (OUT), or OUT/plan.json.")
    var plan: String

    func run() throws {
        let plan = try ShardPlan.read(self.plan)
        let status = plan.status()
        var text = "plan \(plan.planPath.path): \(plan.modelID), \(plan.tasks.count) tasks (\(plan.outputs.count) output(s) × \(plan.shards) shard(s)), hash \(plan.hash.prefix(12))\n"
        func line(_ label: String, _ tasks: [(task: ShardTask, reason: String?)]) {
            text += label.padding(toLength: 9, withPad: " ", startingAt: 0) + String(tasks.count) + "\n"
            for (task, reason) in tasks {
                text += "  \(task.index) \(task.name)\(reason.map { ": \($0)" } ?? "")\n"
            }
        }
        text += "done     \(status.done.count)\n"
        line("running", status.running.map { ($0, nil) })
        line("failed", status.failed.map { ($0.task, $0.reason) })
        line("missing", status.missing)
        if let rerun = status.rerunCommand {
            text += "rerun the failed and missing tasks with:\n\(rerun)\n"
        } else if status.running.isEmpty {
            text += "all \(plan.tasks.count) tasks are done; merge them with:\nberg merge \(plan.folder.path)\n"
        }
        writeStdout(text)
    }
}
