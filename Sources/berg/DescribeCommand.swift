import ArgumentParser
import BERG
import Foundation

struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "describe", abstract: "Describe a model: its manifest in short, or in full as JSON.")

    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The model id.") var modelID: String
    @Flag(help: "Print the whole manifest as JSON.") var json = false

    func run() throws {
        let m = try registry.makeBERG().describe(modelID)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            writeStdout(String(decoding: try encoder.encode(m), as: UTF8.self) + "\n")
            return
        }
        var lines = [
            "\(m.modelID) (version \(m.version))",
            "  modality: \(m.modality); training dataset: \(m.trainingDataset); species: \(m.species)",
            "  model type: \(m.modelType); encoder kind: \(m.encoder.kind)",
            "  subjects: \(m.parameters.subject.validStrings.joined(separator: ", "))",
        ]
        for key in m.parameters.selection.orderedKeys {
            lines.append("  \(key): \(m.parameters.selection.properties[key]!.validValuesText)")
        }
        lines.append("  input: \(m.input.dtype) [\(m.input.shape.joined(separator: ", "))]")
        for output in m.output { lines.append("  output \(output.name): \(output.dtype) [\(output.shape.joined(separator: ", "))]") }
        lines.append("  artifacts: \(m.artifacts.isEmpty ? "none (built in)" : m.artifacts.map(\.name).joined(separator: ", "))")
        lines.append("")
        lines.append(m.description.trimmingCharacters(in: .whitespacesAndNewlines))
        lines.append("")
        lines.append("Full card: berg card \(m.modelID)")
        writeStdout(lines.joined(separator: "\n") + "\n")
    }
}
