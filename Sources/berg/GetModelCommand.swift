import ArgumentParser
import BERG
import Foundation

struct GetModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-model",
        abstract: "Fetch a model's files into the cache, checked, and print where they are.",
        discussion: """
        Files come from --artifact NAME=PATH, then --berg-dir (BERG_DIR), then the cache \
        (BERG_HOME, else $XDG_CACHE_HOME/berg, else ~/.cache/berg), then a download. BERG_MIRROR \
        replaces the address of BERG's bucket; BERG_OFFLINE=1 never touches the network. \
        Without --roi or --select, every file the manifest lists for the subject is fetched. \
        Some files are needed only with an option: `--option space=mni` also fetches \
        img2fmri-bold5000's group-level files.
        """)

    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The model id (see `berg list`).") var modelID: String
    @Option(parsing: .unconditional, help: "The subject number.") var subject: Int?
    @Flag(name: .customLong("all-subjects"), help: "Every subject the model has.") var allSubjects = false
    @OptionGroup var choice: SelectionOptions
    @Option(name: .customLong("option"), help: ArgumentHelp(
        "An encoding option whose files to fetch too, such as space=mni (repeatable).", valueName: "key=value"))
    var options: [String] = []
    @Flag(name: .customLong("dry-run"), help: "List the files, their sizes and where they would come from; fetch nothing.")
    var dryRun = false
    @OptionGroup var store: StoreFlags

    func validate() throws {
        guard (subject != nil) != allSubjects else {
            throw ValidationError("give --subject S or --all-subjects (one of them)")
        }
    }

    func run() throws {
        let berg = try store.makeBERG(registries: registry, modelID: modelID)
        let subjects = subject.map { [Subject($0)] }
        let files = try berg.modelFiles(modelID, subjects: subjects, selection: try choice.selection(),
                                        options: try berg.parseOptions(modelID, options))
        if try berg.describe(modelID).artifacts.isEmpty {
            writeStdout("\(modelID) is built in; nothing to fetch\n")
            return
        }
        if dryRun {
            var lines: [String] = []
            let sizes = try files.map { (file: $0, size: try berg.plannedSize(of: $0)) }
            for (file, size) in sizes {
                let from: String
                switch file.origin {
                case .download: from = "download from \(file.remote ?? "?")"
                case .cache: from = "in the cache"
                case .bergDir: from = "in --berg-dir"
                case .override: from = "given with --artifact"
                }
                lines.append("\(file.local.path)\t\(size)\t\(from)")
            }
            let toFetch = files.filter { $0.origin == .download }.count
            let download = PlannedSize.download(sizes)
            var summary = "\(files.count) file(s), \(toFetch) to download"
            if download.unknown == 0, toFetch > 0 {
                summary += ": \(DownloadProgress.format(bytes: download.bytes))"
            } else if download.unknown > 0 {
                summary += download.bytes > 0 ? ": \(DownloadProgress.format(bytes: download.bytes)) and" : ":"
                summary += " \(download.unknown) file(s) whose size is not known"
            }
            lines.append(summary)
            writeStdout(lines.joined(separator: "\n") + "\n")
            return
        }
        let urls = try ModelFilesError.adding(modelID: modelID, subject: subject, selection: try choice.selection(),
                                              registries: registry.registries) {
            try berg.fetch(files)
        }
        writeStdout(urls.map(\.path).joined(separator: "\n") + (urls.isEmpty ? "" : "\n"))
    }
}
