import ArgumentParser
import BERG
import Foundation

struct CardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "card", abstract: "Print a model's card, or write every card to a folder.")

    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The model id.") var modelID: String?
    @Flag(help: "Every model in the registry (needs --output).") var all = false
    @Option(help: "Write <id>.md into this folder instead of printing.") var output: String?

    func validate() throws {
        if all == (modelID != nil) { throw ValidationError("give a model id or --all") }
        if all && output == nil { throw ValidationError("--all needs --output DIR") }
    }

    func run() throws {
        let berg = try registry.makeBERG()
        if all, let output {
            for path in try berg.writeCards(to: output) { FileHandle.standardError.write(Data("wrote \(path)\n".utf8)) }
        } else if let modelID {
            writeStdout(try berg.card(modelID))
        }
    }
}
