import ArgumentParser
import BERG
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Join a plan's shards into one result per (subject, selection).",
        discussion: """
        Checks every shard first: a missing shard, a shard from another plan, one with the wrong \
        number of images, or shards whose response shapes disagree each get a line, and nothing \
        is written. Then joins each (subject, selection)'s shards in input order: the response \
        arrays are those a single `berg encode` over all the images gives, bit for bit (same \
        batch size and thread count).

        Without --output: OUT/<subject>_<selection>.h5 for each. With --output: one file, laid \
        out as `berg encode` writes it when the plan has one (subject, selection), else with one \
        group per <subject>_<selection>.

        Examples:
          berg merge nsd-fwrf
          berg merge prf --output prf.h5
        """)

    @Argument(help: "The plan's folder (OUT), or OUT/plan.json.")
    var plan: String

    @Option(help: "One .h5 file for everything (default: one file per subject and selection in OUT).")
    var output: String?

    func validate() throws {
        if let output, !["h5", "hdf5"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) {
            throw ValidationError("--output \(output): merged results are HDF5: name it .h5, such as merged.h5")
        }
    }

    func run() throws {
        let plan = try ShardPlan.read(self.plan)
        let problems = plan.mergeProblems()
        guard problems.isEmpty else {
            for problem in problems { ErrorReport.printError(problem) }
            ErrorReport.printError("\(problems.count) of \(plan.tasks.count) shards cannot be merged; `berg status \(plan.folder.path)` prints the sbatch line that reruns what is missing")
            throw ExitCode(1)
        }
        for path in try plan.merge(output: output) { writeStdout(path + "\n") }
    }
}
