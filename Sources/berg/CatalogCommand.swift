import ArgumentParser
import BERG
import Foundation

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "Show modalities and the datasets their models were trained on.")

    @OptionGroup var registry: RegistryOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let catalog = try registry.makeBERG().modelCatalog()
        if json {
            let data = try JSONSerialization.data(withJSONObject: catalog, options: [.prettyPrinted, .sortedKeys])
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            for modality in catalog.keys.sorted() {
                writeStdout("\(modality): \(catalog[modality]!.joined(separator: ", "))\n")
            }
        }
    }
}
