import ArgumentParser
import BERG
import Foundation

struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Work with registry folders.",
                                                    subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a folder of manifests: schema, consistency, and that this build can run each encoder kind.")

        @Argument(help: "The folder of manifests.") var directory: String = "registry"

        func run() throws {
            let checked = try BERG.checkRegistry(URL(fileURLWithPath: directory))
            writeStdout("ok: \(checked.count) manifest(s) in \(directory): \(checked.map(\.modelID).joined(separator: ", "))\n")
        }
    }
}
