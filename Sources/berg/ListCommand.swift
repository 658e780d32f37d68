import ArgumentParser
import BERG
import Foundation

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the models in the registry.")

    @OptionGroup var registry: RegistryOptions

    @Argument(help: "Only ids that match this pattern (`*` and `?` wildcards), e.g. 'fmri-*'.")
    var pattern: String?

    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print a Markdown table (the README's model table).") var markdown = false

    func validate() throws {
        if json && markdown { throw ValidationError("choose one of --json and --markdown") }
    }

    func run() throws {
        let berg = try registry.makeBERG()
        let manifests = try berg.listModels(pattern).map { try berg.describe($0) }
        if json {
            let rows: [[String: String]] = manifests.map {
                ["model_id": $0.modelID, "modality": $0.modality, "training_dataset": $0.trainingDataset,
                 "species": $0.species, "model_type": $0.modelType, "selection": ModelTable.selection($0),
                 "download": ModelTable.download($0)]
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
        } else if markdown {
            writeStdout(ModelTable.markdown(manifests))
        } else {
            writeStdout(ModelTable.text(manifests))
        }
    }
}

/// The model table, as text for the terminal and as Markdown for the README.
enum ModelTable {
    static let headers = ["model id", "modality", "dataset", "species", "model type", "selection", "download"]

    static func row(_ m: Manifest) -> [String] {
        [m.modelID, m.modality, m.trainingDataset, m.species, m.modelType, selection(m), download(m)]
    }

    static func selection(_ m: Manifest) -> String {
        m.parameters.selection.orderedKeys.map { key in
            "\(key): \(m.parameters.selection.properties[key]?.validValuesText ?? "")"
        }.joined(separator: "; ")
    }

    static func download(_ m: Manifest) -> String {
        m.artifacts.isEmpty ? "none (built in)" : "\(m.artifacts.count) file(s)"
    }

    static func text(_ manifests: [Manifest]) -> String {
        let rows = [headers] + manifests.map(row)
        let widths = headers.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    static func markdown(_ manifests: [Manifest]) -> String {
        var lines = ["| " + headers.joined(separator: " | ") + " |",
                     "|" + String(repeating: " --- |", count: headers.count)]
        for m in manifests {
            var cells = row(m)
            cells[0] = "[`\(m.modelID)`](model_cards/\(m.modelID).md)"
            lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
