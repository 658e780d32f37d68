import ArgumentParser
import BERG
import Foundation

struct StimuliCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stimuli", abstract: "Write standard stimulus sets.",
                                                    subcommands: [Retinotopy.self, TestImages.self, Check.self])

    struct Retinotopy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the classic retinotopic mapping stimuli as PNG: expanding rings, rotating wedges, sweeping bars.")

        @Option(help: "The folder to write into (created if needed).") var output: String
        @Option(parsing: .unconditional, help: "Image width and height in pixels.") var size = 256

        func validate() throws { try checkSize(size) }

        func run() throws {
            let count = try BERG.writeRetinotopyStimuli(to: output, size: size)
            FileHandle.standardError.write(Data("wrote \(count) stimuli to \(output)\n".utf8))
        }
    }

    struct TestImages: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test-images",
            abstract: "Write procedural test images as PNG: uniform fields, an edge, gratings, a plaid, a checkerboard, colour ramps, discs, white and 1/f noise.")

        @Option(help: "The folder to write into (created if needed).") var output: String
        @Option(help: "Image width and height in pixels.") var size = 256

        func validate() throws { try checkSize(size) }

        func run() throws {
            let count = try BERG.writeTestImages(to: output, size: size)
            writeStderr("wrote \(count) test images to \(output)\n")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the stimuli `berg publish` checks a model with by default: the retinotopy stimuli and the test images.")

        @Option(help: "The folder to write into (created if needed).") var output: String
        @Option(help: "Image width and height in pixels.") var size = BERG.checkStimulusSize

        func validate() throws { try checkSize(size) }

        func run() throws {
            let count = try BERG.writeCheckStimuli(to: output, size: size)
            writeStderr("wrote \(count) check stimuli to \(output)\n")
        }
    }
}

private func checkSize(_ size: Int) throws {
    guard (32...4096).contains(size) else { throw ValidationError("--size must be in 32...4096, got \(size)") }
}
