import ArgumentParser
import BERG
import Foundation

struct StimuliCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stimuli", abstract: "Write standard stimulus sets.",
                                                    subcommands: [Retinotopy.self])

    struct Retinotopy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the classic retinotopic mapping stimuli as PNG: expanding rings, rotating wedges, sweeping bars.")

        @Option(help: "The folder to write into (created if needed).") var output: String
        @Option(parsing: .unconditional, help: "Image width and height in pixels.") var size = 256

        func validate() throws {
            guard (32...4096).contains(size) else { throw ValidationError("--size must be in 32...4096, got \(size)") }
        }

        func run() throws {
            let count = try BERG.writeRetinotopyStimuli(to: output, size: size)
            FileHandle.standardError.write(Data("wrote \(count) stimuli to \(output)\n".utf8))
        }
    }
}
