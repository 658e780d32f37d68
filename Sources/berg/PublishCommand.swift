import ArgumentParser
import BERG
import Foundation

struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a model package to a folder any static web server can serve, with a check anyone can rerun.",
        discussion: """
        MODEL_DIR holds manifest.yaml and the files its local artifacts name (paths relative to \
        the folder): what `berg fit` writes to OUT/model/, or a folder written by hand for a \
        model of an existing kind. Publishing validates the manifest (as `berg registry check`), \
        refuses an id a built-in model has, loads the model and encodes check stimuli (the \
        retinotopy stimuli and test images of `berg stimuli check`, or --check-input), then \
        writes DEST/<model_id>/<version>/ (the files, check_responses.h5, manifest.yaml with \
        https sources under --base-url, each with sha256 and size, and card.md) and adds the \
        version to DEST/index.yaml. A published version never changes: the same version with \
        other bytes is refused, the same bytes again change nothing.

        Examples:
          berg publish out/fit/model --to site/ --base-url https://lab.example.org/berg
          berg publish my-fwrf/ --to site/ --all-subjects --check-input probe-images/
          berg registry add lab https://lab.example.org/berg/index.yaml   # anyone, afterwards
        """)

    @Argument(help: "The model package: a folder holding manifest.yaml and its files.") var modelDirectory: String
    @Option(name: .customLong("to"), help: ArgumentHelp("The published folder (created when missing).", valueName: "dest-dir"))
    var destination: String
    @Option(name: .customLong("base-url"), help: "The URL the published folder will be served from (default: its file:// URL).")
    var baseURL: String?
    @Option(name: .customLong("check-input"), help: ArgumentHelp("Images to check the model with: an image, a folder, a .npy array or a list file (default: the retinotopy stimuli and test images).", valueName: "images"))
    var checkInput: String?
    @Flag(name: .customLong("all-subjects"), help: "Check every subject and selection, not only the first.")
    var allSubjects = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var store: StoreFlags

    func run() throws {
        try compute.apply()
        let berg = try BERG(storeOptions: store.storeOptions())
        let progress = try ProgressDisplay.fromEnvironment()
        let summary = try berg.publish(PublishJob(modelDirectory: modelDirectory, destination: destination, baseURL: baseURL,
                                                  checkInput: checkInput, allSubjects: allSubjects), progress: progress)
        progress.end()
        var lines: [String] = []
        if summary.unchanged {
            lines.append("\(summary.modelID) \(summary.version) is already published at \(summary.folder.path) with the same bytes; nothing changed")
        } else {
            lines.append("published \(summary.modelID) \(summary.version) to \(summary.folder.path):")
            for file in summary.files {
                lines.append("  \(file.name)\t\(DownloadProgress.format(bytes: Int64(file.size)))\t\(file.sha256)")
            }
        }
        lines.append("check: \(summary.check.stimulusCount) stimuli × \(summary.check.checks.count) check(s) (\(summary.check.checks.map(\.label).joined(separator: "; ")))")
        lines.append("index: \(summary.indexURL) (web pages: \(summary.folder.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("index.html").path))")
        lines.append("others add it with: berg registry add NAME \(summary.indexURL)")
        writeStdout(lines.joined(separator: "\n") + "\n")
        for warning in summary.warnings { writeStderr("berg: warning: \(warning)\n") }
    }
}
