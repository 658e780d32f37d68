import ArgumentParser
import BERG
import Foundation

struct MetadataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata", abstract: "Show a model's metadata (voxel positions, indices, ...) without loading its weights.")

    @OptionGroup var registry: RegistryOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup var store: StoreFlags
    @Flag(help: "Print JSON.") var json = false
    @Option(help: "Write the metadata to a .json or .h5 file.") var output: String?

    func validate() throws {
        if json && output != nil { throw ValidationError("choose one of --json and --output") }
        if let output, !["json", "h5", "hdf5"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) {
            throw ValidationError("--output must end in .json or .h5, got '\(output)'")
        }
    }

    func run() throws {
        let berg = try store.makeBERG(registries: registry, modelID: model.modelID)
        let selection = try model.selection
        let metadata = try ModelFilesError.adding(modelID: model.modelID, subject: model.subject, selection: selection,
                                                  registries: registry.registries) {
            try berg.getModelMetadata(model.modelID, subject: berg.subject(model.subject, for: model.modelID, options: [:]), selection: selection)
        }
        if json {
            writeStdout(try BERG.metadataJSON(metadata) + "\n")
        } else if let output {
            try berg.writeMetadata(metadata, to: output)
            FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
        } else {
            writeStdout(BERG.metadataSummary(metadata))
        }
    }
}
