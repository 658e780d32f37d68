import ArgumentParser
import BERG
import Foundation

/// `berg inspect FILE`: what a model file holds (keys, shapes, dtypes, inert objects), read
/// without executing anything.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the structure of a model file: keys, shapes, dtypes and inert objects.",
        discussion: "Reads PyTorch checkpoints (.pt, .pth), NumPy files (.npy, .npz), pickles (.pkl), HDF5 (.h5), NIfTI (.nii, .nii.gz) and images (.jpg, .png) without executing them.")

    @Argument(help: "The file to inspect.")
    var file: String

    @Flag(help: "Print JSON instead of an indented tree.")
    var json = false

    @Option(parsing: .unconditional, help: "Most entries shown per container.")
    var maxEntries = 64

    @Option(parsing: .unconditional, help: "Deepest nesting shown.")
    var maxDepth = 16

    func validate() throws {
        guard maxEntries > 0, maxDepth > 0 else { throw ValidationError("--max-entries and --max-depth must be positive") }
    }

    func run() throws {
        let inspection = try FileInspection(path: file, maxEntries: maxEntries, maxDepth: maxDepth)
        writeStdout((json ? inspection.json : inspection.text) + "\n")
    }
}
