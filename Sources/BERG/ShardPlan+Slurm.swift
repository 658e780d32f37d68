import BERGCore
import Foundation

/// The Slurm side of a plan: the array job script, the line that reruns some of its tasks,
/// and the resources each task asks for.
extension ShardPlan {
    /// `OUT/berg-array.sbatch`: one array task per plan task, each running `berg run-task`.
    public func sbatchScript() -> String {
        let shards = outputs
        let subjects = Set(tasks.map(\.subject)).count
        let selections = Set(tasks.map { $0.selection.description }).count
        let ours: [(key: String, line: String)] = [
            ("--job-name", "--job-name=berg-\(modelID)"),
            ("--array", "--array=0-\(tasks.count - 1)"),
            ("--ntasks", "--ntasks=1"),
            ("--cpus-per-task", "--cpus-per-task=\(slurm.cpusPerTask)"),
            ("--mem", "--mem=\(slurm.memoryMB)M"),
            ("--output", "--output=\(folder.appendingPathComponent(ShardPlan.logFolder).path)/%A_%a.log"),
        ]
        // An option the user gave replaces ours of the same name.
        let given = Set(slurm.sbatchOptions.map(ShardPlan.optionName))
        let lines = ours.filter { !given.contains($0.key) }.map(\.line) + slurm.sbatchOptions
        return """
        #!/bin/bash
        # A Slurm job array written by `berg plan` (BERG \(bergVersion)): \(modelID),
        # \(subjects) subject(s) × \(selections) selection(s) × \(self.shards) shard(s) of \(stimulusCount) images = \(tasks.count) tasks
        # (\(shards.count) outputs). Plan hash \(hash).
        #
        # Submit:   sbatch \(scriptPath.path)
        # Progress: berg status \(folder.path)   (prints the sbatch line that reruns what is missing)
        # Results:  berg merge \(folder.path)
        #
        # Memory per task: \(slurm.memoryEstimate).
        \(lines.map { "#SBATCH \($0)" }.joined(separator: "\n"))
        set -eu
        export BERG_HOME=\(ShardPlan.shellQuoted(slurm.bergHome))
        export BERG_NUM_THREADS="${SLURM_CPUS_PER_TASK:-\(slurm.cpusPerTask)}"
        exec \(ShardPlan.shellQuoted(slurm.executable)) run-task \(ShardPlan.shellQuoted(planPath.path)) "$SLURM_ARRAY_TASK_ID"

        """
    }

    /// `sbatch OUT/berg-array.sbatch`: the command that submits the whole array.
    public var submitCommand: String { "sbatch \(ShardPlan.shellQuoted(scriptPath.path))" }

    /// `sbatch --array=3,7-9 OUT/berg-array.sbatch`: the command that runs these tasks again.
    public func sbatchCommand(tasks indices: [Int]) -> String {
        "sbatch --array=\(ShardPlan.arraySpec(indices)) \(ShardPlan.shellQuoted(scriptPath.path))"
    }

    /// Array indices as Slurm writes them: `0-3,7,9-11`.
    public static func arraySpec(_ indices: [Int]) -> String {
        var runs: [ClosedRange<Int>] = []
        for index in Set(indices).sorted() {
            if let last = runs.last, last.upperBound + 1 == index {
                runs[runs.count - 1] = last.lowerBound...index
            } else {
                runs.append(index...index)
            }
        }
        return runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    /// An `--sbatch-option` as an `#SBATCH` argument: `partition=short` and `--partition=short`
    /// both become `--partition=short`; `-p short` stays. Newlines and `--array` (the plan's
    /// own) are refused.
    public static func sbatchOption(_ text: String) throws -> String {
        let option = text.trimmingCharacters(in: .whitespaces)
        guard !option.isEmpty, !option.contains(where: \.isNewline) else {
            throw BERGError.invalidArgument(name: "sbatch option", value: text, message: "give one option on one line, such as --partition=short")
        }
        let normalised = option.hasPrefix("-") ? option : "--" + option
        if optionName(normalised) == "--array" {
            throw BERGError.invalidArgument(name: "sbatch option", value: text, message: "the plan writes --array itself (one index per task); to limit how many run at once, submit with `sbatch --array=0-N%LIMIT …`")
        }
        return normalised
    }

    /// `--mem` of `--mem=8G`, `-p` of `-p short`.
    static func optionName(_ option: String) -> String {
        String(option.prefix { $0 != "=" && $0 != " " })
    }

    /// `text` as one shell word: as it is when it holds only safe characters, else in single quotes.
    static func shellQuoted(_ text: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@%")
        if !text.isEmpty && text.allSatisfy(safe.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// How much a task asks Slurm for. CPUs come from the model: a parametric model (no weights)
/// is cheap and runs on one; a network gets `networkCPUs` (or the planning machine's cores,
/// if fewer), a middle between BLAS speed-up (which flattens past a few threads at these batch
/// sizes) and memory (each task holds its own copy of the model). Memory is summed from parts
/// and given a margin:
///
///     memory = 1.5 × (process + model files
///                     + batch size × (working set per image + 16 B × the largest image's pixels)),
///     rounded up to 100 MB
///
/// - process: 100 MB (libraries, the registry, buffers: `berg encode` of one 425² image by the
///   pRF model peaks at 59 MB);
/// - model files: their sizes on disk or in the manifest (weights load as float32, the size
///   they are stored at), 500 MB for each file of unknown size;
/// - per image of a batch: the peak resident memory of `berg encode` at batch 64 less that at
///   batch 1, over 63, measured on 128 images of 425² (NSD's size) with 2 threads, release
///   build. The pRF model, which works at the images' own size, gives 2.9 MB an image, 16 bytes
///   a pixel: the decoded batch and the next one (a task decodes ahead while it encodes) and
///   per-pixel buffers. fwRF V1 (full size, 36 MB of weights; 120 → 535 MB) gives 6.6 MB, that
///   is 3.7 MB besides the 16 bytes a pixel; fwRF lateral (two networks in turn; 292 → 608 MB)
///   5.0 MB, 2.1 besides. img2fmri's ResNet-18 (`berg bench --network resnet18`, no images to
///   decode; 213 → 677 MB) 7.4 MB. These "besides" figures are `workingSetPerImageMB`; memory
///   does not grow with the shard, since a task reads and writes a batch at a time.
///
/// Against those runs the estimate has room: at batch 64 and 425² images, fwRF V1 gets 900 MB
/// for a 535 MB peak, lateral 1,100 MB for 608 MB, the pRF model 500 MB for 240 MB.
struct TaskResourceEstimate {
    static let networkCPUs = 4
    static let processMB = 100.0
    static let unknownFileMB = 500.0
    static let margin = 1.5

    /// Peak resident memory per image of a batch besides 16 bytes a pixel, by encoder kind (MB),
    /// measured as above; other kinds take the largest.
    static let workingSetPerImageMB: [String: Double] = ["css_prf": 0.1, "fwrf": 3.7, "img2fmri": 7.4]
    static var defaultWorkingSetMB: Double { workingSetPerImageMB.values.max() ?? 8 }

    var cpus: Int
    var memoryMB: Int
    var explanation: String

    init(kind: String, hasWeights: Bool, fileSizes: [Int?], batchSize: Int, largestImagePixels: Int) {
        cpus = hasWeights ? min(TaskResourceEstimate.networkCPUs, ProcessInfo.processInfo.activeProcessorCount) : 1
        let known = fileSizes.compactMap { $0 }.reduce(0, +)
        let unknown = fileSizes.filter { $0 == nil }.count
        let filesMB = Double(known) / 1e6 + Double(unknown) * TaskResourceEstimate.unknownFileMB
        let perImage = TaskResourceEstimate.workingSetPerImageMB[kind] ?? TaskResourceEstimate.defaultWorkingSetMB
        let imageMB = Double(16 * largestImagePixels) / 1e6
        let total = TaskResourceEstimate.margin * (TaskResourceEstimate.processMB + filesMB + Double(batchSize) * (perImage + imageMB))
        memoryMB = Int((total / 100).rounded(.up)) * 100
        func mb(_ x: Double) -> String { String(Int(x.rounded(.up))) }
        explanation = "1.5 × (process \(mb(TaskResourceEstimate.processMB)) MB + model files \(mb(filesMB)) MB"
            + (unknown > 0 ? " (\(unknown) of unknown size at \(mb(TaskResourceEstimate.unknownFileMB)) MB)" : "")
            + " + batch \(batchSize) × (\(perImage) MB working set + \(String(format: "%.2f", imageMB)) MB for the image's pixels)) = \(memoryMB) MB"
    }
}
