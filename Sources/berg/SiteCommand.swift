import ArgumentParser
import BERG
import Foundation

struct SiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "Write a static, browsable catalogue of the models: no server code, links relative.",
        discussion: """
        Writes DIR/index.html (every model in a table, with search and filters by modality, \
        dataset, species and model type; without JavaScript the table is all there, without \
        the filters) and DIR/<id>/<version>/index.html per model and version: the card, the \
        selection's values, the files with sizes and SHA-256, commands to copy, the check's \
        summary and pictures (outputs per selection, retinotopic maps of pRF models). The \
        models are the built-in ones, those in --registry folders and every version of the \
        published indexes added with `berg registry add` or given with --index. Open \
        DIR/index.html from the disk or serve DIR from any path. `berg publish` keeps such \
        pages for its own folder.

        Examples:
          berg site --output out/site
          berg site --output out/lab-site --index https://lab.example.org/berg/index.yaml
        """)

    @Option(help: "The folder to write the site into (created when missing).") var output: String
    @OptionGroup var registry: RegistryOptions
    @Option(name: .customLong("index"), help: ArgumentHelp("A published index to include, its URL or folder (repeatable).", valueName: "url"))
    var indexes: [String] = []
    @Option(help: "The site's title.") var title = "BERG model catalogue"

    func run() throws {
        let locations = indexes.map { $0.contains("://") ? URL(string: $0) ?? URL(fileURLWithPath: $0) : URL(fileURLWithPath: $0) }
        let berg = try BERG(registries: registry.urls + locations,
                            storeOptions: StoreFlags.withNotices(StoreOptions(environment: ProcessInfo.processInfo.environment)))
        let pages = try berg.writeSite(to: output, indexes: indexes, title: title)
        writeStdout("wrote \(pages.count) page(s) to \(output): open \(URL(fileURLWithPath: output).appendingPathComponent("index.html").path)\n")
    }
}
