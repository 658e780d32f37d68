import ArgumentParser
import BERG
import Foundation

/// Options every command that reads the registry takes.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("registry"), help: ArgumentHelp(
        "A folder of extra manifests (repeatable). BERG_REGISTRY_PATH adds more (colon-separated).",
        valueName: "dir"))
    var registries: [String] = []

    func makeBERG() throws -> BERG {
        try BERG(registries: registries.map { URL(fileURLWithPath: $0) })
    }
}

/// Which model, subject and selection a command works on.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model id (see `berg list`).")
    var modelID: String

    @Option(help: "The subject number.")
    var subject: Int

    @OptionGroup var choice: SelectionOptions

    var selection: Selection { choice.selection }
}

/// `--roi R` and `--select KEY=VALUE ...`: which part of a model's output.
struct SelectionOptions: ParsableArguments {
    @Option(help: "Shorthand for --select roi=R.")
    var roi: String?

    @Option(name: .customLong("select"), help: ArgumentHelp("A selection value (repeatable).", valueName: "key=value"))
    var selections: [String] = []

    func validate() throws {
        for item in selections {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--select takes KEY=VALUE, got '\(item)'")
            }
        }
        if roi != nil, selections.contains(where: { $0.hasPrefix("roi=") }) {
            throw ValidationError("give the ROI once: --roi R or --select roi=R, not both")
        }
    }

    var selection: Selection {
        var selection = Selection()
        for item in selections {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { selection[parts[0]] = parts[1] }
        }
        if let roi { selection["roi"] = roi }
        return selection
    }
}

/// How the computation runs.
struct ComputeOptions: ParsableArguments {
    @Option(help: "auto, cpu or cuda.")
    var device: Device = .auto

    @Option(help: "CPU threads for compute (default: BERG_NUM_THREADS, else all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func apply() {
        BERG.configureThreads(threads)
    }
}

extension Device: ExpressibleByArgument {}

func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
