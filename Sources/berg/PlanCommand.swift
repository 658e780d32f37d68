import ArgumentParser
import BERG
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Split a large encoding job into a Slurm job array of restartable tasks.",
        discussion: """
        Lists the input images once (in the order `berg encode` reads them, with each file's \
        size and SHA-256), splits them into N contiguous shards, and makes one task per \
        (subject, selection, shard). Writes OUT/plan.json and OUT/berg-array.sbatch (one array \
        task per plan task, each running `berg run-task`); submit that with sbatch. Then \
        `berg status OUT` shows what is done and prints the sbatch line that reruns the rest, \
        and `berg merge OUT` joins the shards.

        Everything is checked now rather than in the tasks: the model, subjects, ROIs and \
        options, the model's files (with BERG_OFFLINE=1 they must already be in the cache), and \
        every image, which is read and decoded once (exit 2 names the unreadable ones).

        Each task asks for --cpus-per-task (1 for a parametric model, else 4 or this machine's \
        cores if fewer) and for memory estimated from the model's files, the batch size and the \
        input's largest image; plan.json says how. Tasks share one model-file cache: BERG_HOME \
        as set when planning (on a cluster, a shared file system), or --berg-dir. Slurm's \
        default MaxArraySize allows 1,001 tasks in one array: plan a subject at a time.

        Examples:
          berg plan fmri-nsd-fwrf --subject 1 --all-rois --input nsd_images/ \\
              --shards 40 --output-dir nsd-sub1 --sbatch-option partition=short
          berg plan fmri-kay2013-css_prf --subject 1 --roi V1 --roi V2 \\
              --input images/ --shards 4 --output-dir prf --sbatch-option --account=lab
          sbatch nsd-sub1/berg-array.sbatch
        """)

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var store: StoreFlags

    @Argument(help: "The model id (see `berg list`).")
    var modelID: String

    @Option(name: .customLong("subject"), help: "A subject number (repeatable; see `berg describe <id>`).")
    var subjects: [Int] = []

    @Flag(help: "Every subject the model lists.") var allSubjects = false

    @Option(name: .customLong("roi"), help: "A region of interest (repeatable).")
    var rois: [String] = []

    @Flag(name: .customLong("all-rois"), help: "Every ROI the model lists.") var allROIs = false

    @Option(name: .customLong("select"), help: ArgumentHelp("Another selection value for every task (repeatable), such as hemisphere=lh.", valueName: "key=value"))
    var selections: [String] = []

    @Option(help: "A folder of images, a text file listing images, or a .npy uint8 array.")
    var input: String

    @Option(parsing: .unconditional, help: "How many contiguous parts to split the input into.")
    var shards: Int

    @Option(help: "Where plan.json, berg-array.sbatch and the shards go.")
    var outputDir: String

    @Option(parsing: .unconditional, help: "Images per batch.") var batchSize = 64
    @Flag(help: "Also write the model's metadata into each output.") var metadata = false
    @Option(help: "auto, cpu or cuda.") var device: Device = .auto
    @Option(name: .customLong("option"), help: ArgumentHelp("An encoding option (repeatable).", valueName: "key=value"))
    var options: [String] = []

    @Option(parsing: .unconditional, help: "Threads per task (default: estimated from the model).")
    var cpusPerTask: Int?

    @Option(name: .customLong("sbatch-option"), parsing: .unconditionalSingleValue, help: ArgumentHelp(
        "An extra #SBATCH option (repeatable), such as partition=short, --account=lab or --time=04:00:00.", valueName: "option"))
    var sbatchOptions: [String] = []

    func validate() throws {
        guard subjects.isEmpty != !allSubjects else { throw ValidationError("give --subject S (repeatable) or --all-subjects, one of the two") }
        guard rois.isEmpty || !allROIs else { throw ValidationError("give --roi R (repeatable) or --all-rois, not both") }
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1, got \(shards)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be at least 1, got \(cpusPerTask)") }
        _ = try KeyValue.parseAll(options, flag: "--option")
        _ = try KeyValue.parseAll(selections, flag: "--select")
    }

    func run() throws {
        let berg = try store.makeBERG(registries: registry, modelID: modelID)
        var base = Selection()
        for (key, value) in try KeyValue.parseAll(selections, flag: "--select") { base[key] = value }
        let request = ShardPlanRequest(
            modelID: modelID,
            subjects: allSubjects ? try berg.allSubjects(modelID) : subjects.map { Subject($0) },
            selections: try berg.roiSelections(modelID, rois: allROIs ? nil : rois, base: base),
            options: options, device: device, input: input, shards: shards, outputFolder: outputDir,
            batchSize: batchSize, includeMetadata: metadata, registries: registry.urls, cpusPerTask: cpusPerTask,
            sbatchOptions: sbatchOptions,
            executable: Bundle.main.executableURL?.standardizedFileURL.path ?? CommandLine.arguments[0])
        let plan = try berg.planShards(request)
        let outputs = plan.outputs.count
        writeStdout("""
        planned \(plan.tasks.count) tasks: \(plan.modelID), \(outputs) output(s) (subject × selection) × \(plan.shards) shard(s) of \(plan.stimulusCount) images; plan hash \(plan.hash.prefix(12))
        each task: \(plan.slurm.cpusPerTask) CPU(s), \(plan.slurm.memoryMB) MB (\(plan.slurm.memoryEstimate))
        wrote \(plan.planPath.path) and \(plan.scriptPath.path)

        """)
        if plan.tasks.count > 1000 {
            writeStdout("note: \(plan.tasks.count) tasks is more than Slurm's default MaxArraySize (1001) allows in one array; ask `scontrol show config | grep MaxArraySize`, or plan fewer shards\n")
        }
        writeStdout("submit with:\n\(plan.submitCommand)\n")
    }
}
