import ArgumentParser
import BERG
import Foundation

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Look after the download cache (BERG_HOME, else $XDG_CACHE_HOME/berg, else ~/.cache/berg).",
        subcommands: [List.self, Verify.self, Clean.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cached files by model, with sizes.")
        @OptionGroup var registry: RegistryOptions

        func run() throws {
            let berg = try registry.makeBERG()
            let groups = try berg.cachedModels()
            let total = groups.flatMap(\.files).map(\.size).reduce(0, +)
            var lines = ["\(try berg.cacheFolder.path): \(DownloadProgress.format(bytes: total))"]
            for group in groups {
                let size = group.files.map(\.size).reduce(0, +)
                lines.append("\(group.modelID.isEmpty ? "(no model)" : group.modelID)\t\(group.files.count) file(s)\t\(DownloadProgress.format(bytes: size))")
                for file in group.files { lines.append("  \(DownloadProgress.format(bytes: file.size))\t\(file.path)") }
            }
            writeStdout(lines.joined(separator: "\n") + "\n")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash cached files against pins.json and the manifests; exit 1 when one differs.")
        @OptionGroup var registry: RegistryOptions
        @Argument(help: "Only this model's files.") var modelID: String?

        func run() throws {
            let berg = try registry.makeBERG()
            let results = try berg.verifyCache(modelID)
            var bad = 0
            var lines: [String] = []
            for result in results {
                switch result.status {
                case .ok: lines.append("ok\t\(result.path)")
                case .unpinned: lines.append("unpinned\t\(result.path)\t\(result.sha256)")
                case let .mismatch(expected, against):
                    bad += 1
                    lines.append("CHANGED\t\(result.path)\tSHA-256 \(result.sha256), \(against) has \(expected)")
                }
            }
            writeStdout(lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n"))
            if bad > 0 {
                throw BERGError.checksumMismatch(path: "\(bad) cached file(s)", expected: "their recorded SHA-256",
                                                 actual: "other bytes; delete them with `berg cache clean` and fetch again")
            }
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete cached files: all, or one model's. pins.json is kept.")
        @OptionGroup var registry: RegistryOptions
        @Argument(help: "Only this model's files.") var modelID: String?

        func run() throws {
            let berg = try registry.makeBERG()
            let removed = try berg.cleanCache(modelID)
            writeStdout("Removed \(removed.count) file(s) from \(try berg.cacheFolder.path)\n")
        }
    }
}
