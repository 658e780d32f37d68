import ArgumentParser
import BERG
import Foundation

/// Options every command that reads the registry takes.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("registry"), help: ArgumentHelp(
        "A folder of extra manifests, or a published index (its folder or URL) (repeatable). BERG_REGISTRY_PATH adds folders (colon-separated).",
        valueName: "dir"))
    var registries: [String] = []

    var urls: [URL] { registries.map { $0.contains("://") ? URL(string: $0) ?? URL(fileURLWithPath: $0) : URL(fileURLWithPath: $0) } }

    /// The facade; a published index that cannot be fetched says so on stderr.
    func makeBERG() throws -> BERG {
        try BERG(registries: urls, storeOptions: StoreFlags.withNotices(StoreOptions(environment: ProcessInfo.processInfo.environment)))
    }
}

/// Which model, subject and selection a command works on.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model id (see `berg list`).")
    var modelID: String

    // Numeric options parse their next word unconditionally, so that a negative number reaches
    // its check ("must be at least 1") instead of being taken for a flag ("Missing value").
    @Option(parsing: .unconditional, help: "The subject number (see `berg describe <id>`); a model with one subject needs none, and img2fmri's --space mni averages all and takes none.")
    var subject: Int?

    @OptionGroup var choice: SelectionOptions

    var selection: Selection { get throws { try choice.selection() } }
}

/// `KEY=VALUE` arguments (`--select`, `--option`, `--artifact`): split at the first `=`.
enum KeyValue {
    static func parse(_ item: String, flag: String) throws -> (key: String, value: String) {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ValidationError("\(flag) takes KEY=VALUE, got '\(item)'")
        }
        return (parts[0], parts[1])
    }

    /// Every item parsed; a key given twice is an error naming it.
    static func parseAll(_ items: [String], flag: String) throws -> [(key: String, value: String)] {
        var seen = Set<String>()
        return try items.map { item in
            let pair = try parse(item, flag: flag)
            guard seen.insert(pair.key).inserted else { throw ValidationError("give \(pair.key) once: \(flag) \(pair.key)=… appears twice") }
            return pair
        }
    }
}

/// `--roi R` and `--select KEY=VALUE ...`: which part of a model's output.
struct SelectionOptions: ParsableArguments {
    @Option(help: "Shorthand for --select roi=R.")
    var roi: String?

    @Option(name: .customLong("select"), help: ArgumentHelp("A selection value (repeatable), such as roi=V1.", valueName: "key=value"))
    var selections: [String] = []

    func validate() throws { _ = try selection() }

    /// The selection; a key given twice, or through both --roi and --select roi=, is an error.
    func selection() throws -> Selection {
        var selection = Selection()
        for (key, value) in try KeyValue.parseAll(selections, flag: "--select") { selection[key] = value }
        if let roi {
            guard selection["roi"] == nil else { throw ValidationError("give roi once: --roi \(roi) or --select roi=…, not both") }
            selection["roi"] = roi
        }
        return selection
    }
}

/// How the computation runs.
struct ComputeOptions: ParsableArguments {
    @Option(help: "auto, cpu or cuda.")
    var device: Device = .auto

    @Option(parsing: .unconditional, help: "CPU threads for compute (default: BERG_NUM_THREADS, else all cores).",
            transform: ComputeOptions.threadCount)
    var threads: Int?

    /// `--threads` as text: a positive integer, or a message that says so.
    static func threadCount(_ text: String) throws -> Int {
        guard let n = Int(text), n >= 1 else { throw ValidationError("--threads must be at least 1, got '\(text)'") }
        return n
    }

    /// `BERG_NUM_THREADS` gets the check `--threads` gets, as a usage error.
    func validate() throws {
        do { try BERG.checkThreadSetting(threads) } catch let error as BERGError { throw ValidationError(error.message) }
    }

    /// The process-wide settings a command-line run opts into (threads).
    func apply() throws {
        try BERG.configureThreads(threads)
    }
}

/// Where files come from: flags that add to the `BERG_*` environment variables.
struct StoreFlags: ParsableArguments {
    @Option(name: .customLong("berg-dir"), help: ArgumentHelp(
        "An existing BERG download to read in place (BERG_DIR).", valueName: "dir"))
    var bergDir: String?

    @Option(name: .customLong("artifact"), help: ArgumentHelp(
        "Use this file for the named artifact (repeatable).", valueName: "name=path"))
    var artifacts: [String] = []

    func validate() throws {
        _ = try KeyValue.parseAll(artifacts, flag: "--artifact")
    }

    /// The environment's options, these flags on top, and progress drawn on stderr.
    func storeOptions() throws -> StoreOptions {
        var options = try StoreFlags.environmentOptions()
        if let bergDir { options.bergDir = try StoreOptions.checkedBergDir(bergDir, name: "--berg-dir") }
        for (name, path) in try KeyValue.parseAll(artifacts, flag: "--artifact") {
            options.overrides[name] = URL(fileURLWithPath: path)
        }
        return options
    }

    /// The `BERG_*` environment variables' options, with notices and progress drawn on stderr.
    static func environmentOptions() throws -> StoreOptions {
        var options = StoreFlags.withNotices(try StoreOptions(environment: ProcessInfo.processInfo.environment))
        if isatty(STDERR_FILENO) == 1 {
            options.progress = { progress in
                let end = progress.finished ? "\n" : ""
                FileHandle.standardError.write(Data("\r\u{1B}[K\(progress.line)\(end)".utf8))
            }
        }
        return options
    }

    /// Options whose notices ("waiting for another process", "using the cached index") go to stderr.
    static func withNotices(_ options: StoreOptions) -> StoreOptions {
        var options = options
        let terminal = isatty(STDERR_FILENO) == 1
        options.notice = { message in
            FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + "berg: \(message)\n").utf8))
        }
        return options
    }

    /// The facade, after checking that each --artifact names an artifact of `modelID`.
    func makeBERG(registries: RegistryOptions, modelID: String? = nil) throws -> BERG {
        let berg = try BERG(registries: registries.urls, storeOptions: storeOptions())
        if let modelID {
            try berg.checkArtifactNames(modelID, Set(try KeyValue.parseAll(artifacts, flag: "--artifact").map(\.key)))
        }
        return berg
    }
}

extension Device: ExpressibleByArgument {}

func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

func writeStderr(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Progress on stderr: a bar redrawn in place on a terminal; otherwise (batch jobs, logs) a
/// plain line every `interval` seconds. Both say how fast it goes and how long is left.
final class ProgressDisplay: ProgressReporter, @unchecked Sendable {
    private let terminal = isatty(STDERR_FILENO) == 1
    private let interval: Double
    private let start = Date()
    private let lock = NSLock()
    private var lastLine: Date?
    private var drawn = false

    init(interval: Double = 10) { self.interval = interval }

    /// Lines every `BERG_PROGRESS_SECONDS` seconds (default 10) when stderr is not a terminal.
    static func fromEnvironment() throws -> ProgressDisplay {
        guard let text = ProcessInfo.processInfo.environment["BERG_PROGRESS_SECONDS"], !text.isEmpty else { return ProgressDisplay() }
        guard let seconds = Double(text), seconds >= 0 else {
            throw BERGError.invalidArgument(name: "BERG_PROGRESS_SECONDS", value: text, message: "must be a number of seconds, 0 or more")
        }
        return ProgressDisplay(interval: seconds)
    }

    func report(completed: Int, total: Int, message: String) {
        lock.lock(); defer { lock.unlock() }
        let now = Date(), elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(completed) / elapsed : 0
        let left = rate > 0 && total > completed ? " · about \(ProgressDisplay.duration(Double(total - completed) / rate)) left" : ""
        let speed = rate > 0 ? String(format: " · %.1f %@/s", rate, message) : ""
        if terminal {
            let width = 30
            let filled = total > 0 ? width * min(completed, total) / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            writeStderr("\r\u{1B}[K\(message) [\(bar)] \(completed)/\(total)\(speed)\(left)")
            drawn = true
        } else if now.timeIntervalSince(lastLine ?? start) >= interval || (completed == total && lastLine != nil) {
            lastLine = now
            writeStderr("berg: \(completed)/\(total) \(message) (\(total > 0 ? 100 * completed / total : 100) %)\(speed)\(left)\n")
        }
    }

    /// Ends the bar's line on a terminal.
    func end() {
        lock.lock(); defer { lock.unlock() }
        if drawn { writeStderr("\n") }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}
