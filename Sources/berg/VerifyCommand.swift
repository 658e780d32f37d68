import ArgumentParser
import BERG
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a model gives the responses recorded when it was published.",
        discussion: """
        Fetches the model's files if needed, encodes the check stimuli of its check_responses.h5 \
        again (for every subject and selection recorded, or those --subject, --roi and --select \
        pick) and compares: exit 0 with the largest relative error when every value is within \
        1e-4 of the recorded one (relative to the largest magnitude of its output), exit 1 \
        naming the worst output and stimulus otherwise. Published models carry a check; so does \
        the built-in fmri-kay2013-css_prf.

        Examples:
          berg verify fmri-kay2013-css_prf
          berg verify lab-v1-ridge --subject 1
          berg verify fmri-kay2013-css_prf --record registry/checks/fmri-kay2013-css_prf.h5
        """)

    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The model id (see `berg list`).") var modelID: String
    @Option(help: "Only the checks of this subject.") var subject: Int?
    @OptionGroup var choice: SelectionOptions
    @Option(help: ArgumentHelp("Instead of comparing, encode the check stimuli for every subject and selection and write a new check file (for a model in registry/: registry/checks/<id>.h5, then make registry).", valueName: "file.h5"))
    var record: String?
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags

    func validate() throws {
        if record != nil, subject != nil || !choice.selections.isEmpty || choice.roi != nil {
            throw ValidationError("--record checks every subject and selection; leave out --subject, --roi and --select")
        }
    }

    func run() throws {
        try compute.apply()
        let berg = try store.makeBERG(registries: registry, modelID: modelID)
        let progress = try ProgressDisplay.fromEnvironment()
        if let record {
            let check = try berg.recordCheck(modelID, to: record, progress: progress)
            progress.end()
            writeStdout("wrote \(record): \(check.stimulusCount) stimuli × \(check.checks.count) check(s)\n")
            return
        }
        let report = try berg.verify(modelID, subject: subject.map { Subject($0) }, selection: try choice.selection(), progress: progress)
        progress.end()
        guard report.passed else {
            ErrorReport.printError(report.summary)
            throw ExitCode(1)
        }
        writeStdout("ok: \(report.summary)\n")
    }
}
