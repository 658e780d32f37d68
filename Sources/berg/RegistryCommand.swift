import ArgumentParser
import BERG
import Foundation

struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Work with registry folders.",
                                                    subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate manifests: schema, consistency, each encoder kind's typed settings, and metadata where no files are needed.",
            discussion: """
            With a folder, checks the <model_id>.yaml manifests in it (in this repository: \
            `berg registry check registry`). Without one, checks the built-in manifests.
            """)

        @Argument(help: "A folder of manifests (default: the built-in registry).") var directory: String?

        func run() throws {
            let berg = try BERG()
            let checked = try berg.checkRegistry(directory.map { URL(fileURLWithPath: $0) })
            writeStdout("ok: \(checked.count) manifest(s) in \(directory ?? "the built-in registry"): \(checked.map(\.modelID).joined(separator: ", "))\n")
        }
    }
}
