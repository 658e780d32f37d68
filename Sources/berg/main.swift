import ArgumentParser
import BERG

@main
struct Berg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berg",
        abstract: "Brain Encoding Response Generator: in silico brain responses from encoding models.",
        subcommands: [])
}
