import ArgumentParser
import BERG
import Foundation

struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Check registry folders; add, list and remove published indexes.",
        subcommands: [Check.self, Add.self, List.self, Remove.self])

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

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a published index (what `berg publish` writes): its models join `berg list`, describe, card, get-model and encode.",
            discussion: """
            URL is the address of a published index.yaml (or of the folder holding it): https, \
            http on a loopback address (plain http elsewhere is refused), or a local folder. The \
            index and every manifest it lists are fetched and checked now, and recorded in \
            $BERG_HOME/registries.yaml. Later commands fetch the index again (a cached copy when \
            BERG_OFFLINE=1 or the server cannot be reached) and refuse a manifest whose SHA-256 \
            differs from the index's.

            Examples:
              berg registry add lab https://lab.example.org/berg/index.yaml
              berg registry add mine ~/published/
            """)

        @Argument(help: "A name for the index (letters, digits, '-', '_', '.').") var name: String
        @Argument(help: "The index's URL, or a local folder.") var url: String

        func run() throws {
            let added = try BERG.addRegistry(name: name, url: url, storeOptions: StoreFlags.withNotices(StoreOptions(environment: ProcessInfo.processInfo.environment)))
            writeStdout("added \(added.name) (\(added.location)): \(added.modelIDs.count) model(s)\(added.modelIDs.isEmpty ? "" : ": " + added.modelIDs.joined(separator: ", "))\n")
            if !added.hiddenIDs.isEmpty {
                writeStderr("berg: warning: \(added.hiddenIDs.joined(separator: ", ")) already name built-in models or models in registry folders, which keep those ids\n")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the published indexes added with `berg registry add`.")

        func run() throws {
            let entries = try BERG.registries()
            if entries.isEmpty { writeStderr("no registries added; add one with `berg registry add NAME URL`\n") }
            for entry in entries { writeStdout("\(entry.name)\t\(entry.url)\n") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a published index added with `berg registry add`.")

        @Argument(help: "The name it was added under (see `berg registry list`).") var name: String

        func run() throws {
            try BERG.removeRegistry(name: name)
            writeStdout("removed \(name)\n")
        }
    }
}
