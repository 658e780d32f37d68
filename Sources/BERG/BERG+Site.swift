import BERGCore
import BERGFormats
import BERGPlot
import BERGRegistry
import BERGSite
import BERGStore
import Foundation

/// The browsable catalogue (`berg site`, and the pages `berg publish` refreshes): a static
/// site, `index.html` with every model and `<id>/<version>/index.html` for each version.
extension BERG {
    /// Writes the catalogue of every model this facade sees (built in, registry folders, the
    /// newest version of each published index) and every version of the published indexes
    /// recorded in `registries.yaml` and given in `indexes`, into `folder`. Returns the pages
    /// written, index first.
    @discardableResult
    public func writeSite(to folder: String, indexes: [String] = [], title: String = "BERG model catalogue") throws -> [String] {
        var locations = try indexes.map(IndexLocation.init)
        if let store = try? artifactStore {
            locations += try RegistryList.load(RegistryList.file(home: store.home)).registries.map { try IndexLocation($0.url) }
        }
        let reader = PublishedIndexReader(store: try? artifactStore)
        var published: [PublishedModel] = []
        for location in locations { published += try reader.models(in: location) }
        // Ids the registry took from an index (a built-in model or a folder keeps its id).
        let publishedIDs = Set(published.filter { registry.entries[$0.manifest.modelID]?.manifest == $0.manifest }.map(\.manifest.modelID))
        var entries: [SiteEntry] = registry.listModels().filter { !publishedIDs.contains($0) }.compactMap { id in
            registry.entries[id].map { SiteEntry(manifest: $0.manifest, source: $0.source == "built-in" ? BERG.builtInSource : $0.source) }
        }
        var seen = Set<String>()
        for model in published where publishedIDs.contains(model.manifest.modelID)
            && seen.insert("\(model.manifest.modelID)@\(model.manifest.version)").inserted {
            entries.append(SiteEntry(manifest: model.manifest, source: model.index.description, index: model.index,
                                     folder: model.index.isLocal ? model.manifestURL.deletingLastPathComponent() : nil))
        }
        return try writeSitePages(entries, to: URL(fileURLWithPath: folder), title: title)
    }

    /// Refreshes `DEST/index.html` and every version's page after `publish`.
    func refreshPublishedSite(_ destination: URL, base: String) throws {
        let index = try IndexLocation(destination.path)
        let models = try PublishedIndexReader(store: nil).models(in: index)
        let entries = models.map { model in
            SiteEntry(manifest: model.manifest, source: base + "/index.yaml", index: index,
                      folder: model.manifestURL.deletingLastPathComponent(), indexURL: base + "/index.yaml")
        }
        try writeSitePages(entries, to: destination, title: "Published models", pagesOnly: true)
    }

    // MARK: - Pages

    /// One page's model and where its files are.
    struct SiteEntry {
        var manifest: Manifest
        var source: String
        var index: IndexLocation? = nil
        /// A local folder holding the version's published files (check, accuracy.png).
        var folder: URL? = nil
        /// The index's address under its base URL, for `berg registry add`.
        var indexURL: String? = nil
    }

    @discardableResult
    private func writeSitePages(_ entries: [SiteEntry], to root: URL, title: String, pagesOnly: Bool = false) throws -> [String] {
        try createFolder(root.path)
        var pages: [String] = []
        var rows: [SiteModel] = []
        let sorted = entries.sorted { ($0.manifest.modelID, ModelVersion($1.manifest.version)) < ($1.manifest.modelID, ModelVersion($0.manifest.version)) }
        for entry in sorted {
            let versions = sorted.filter { $0.manifest.modelID == entry.manifest.modelID && $0.manifest.version != entry.manifest.version }
                .map(\.manifest.version)
            let check = try? siteCheck(entry)
            var model = try siteModel(entry, check: check, otherVersions: versions)
            let folder = root.appendingPathComponent(model.folder)
            try createFolder(folder.path)
            model.pictures = try pictures(for: entry, check: check, into: folder)
            let page = folder.appendingPathComponent("index.html")
            try AtomicFile.write(Data(try SiteRenderer.modelPage(model, siteTitle: title).utf8), to: page.path)
            pages.append(page.path)
            rows.append(model)
        }
        let note = pagesOnly
            ? "Models published with berg publish. Add them with: berg registry add NAME \(entries.first?.indexURL ?? "URL-OF-index.yaml")"
            : "Made by berg site (BERG for Swift \(BERG.version)). Each model runs with: berg encode MODEL_ID --subject S --input images/ --output responses.npy"
        let index = root.appendingPathComponent("index.html")
        try AtomicFile.write(Data(try SiteRenderer.indexPage(rows, title: title, note: note).utf8), to: index.path)
        return [index.path] + pages
    }

    /// The page's text: everything the card and the table show, the files, the commands.
    private func siteModel(_ entry: SiteEntry, check: CheckResponses?, otherVersions: [String]) throws -> SiteModel {
        let m = entry.manifest
        let spec = m.parameters.selection
        let exampleSubject = m.parameters.subject.default?.string ?? m.parameters.subject.validStrings.first ?? "1"
        let exampleSelection: [(String, String)] = spec.orderedKeys.compactMap { key in
            guard let p = spec.properties[key], let value = p.default?.string ?? p.validStrings.first else { return nil }
            return (key, value)
        }
        let flags = (["--subject \(exampleSubject)"] + exampleSelection.map { $0.0 == "roi" ? "--roi \($0.1)" : "--select \($0.0)=\($0.1)" })
            .joined(separator: " ")
        let indexAddress = entry.indexURL ?? entry.index.map { $0.isLocal ? $0.url.path : $0.url.absoluteString }
        var commands: [String] = []
        if let indexAddress { commands.append("berg registry add lab \(indexAddress)") }
        if !m.artifacts.isEmpty { commands.append("berg get-model \(m.modelID) \(flags)") }
        commands.append("berg encode \(m.modelID) \(flags) --input images/ --output \(m.output.count > 1 ? "responses.h5" : "responses.npy")")
        if check != nil { commands.append("berg verify \(m.modelID)") }
        let selectionLiteral = exampleSelection.isEmpty ? "[:]" : "[" + exampleSelection.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "]"
        let facade = indexAddress.map { address in
            address.contains("://") ? "try BERG(registries: [URL(string: \"\(address)\")!])"
                                    : "try BERG(registries: [URL(fileURLWithPath: \"\(address)\")])"
        } ?? "try BERG()"
        let swift = """
        import BERG

        let berg = \(facade)
        let model = try berg.getEncodingModel("\(m.modelID)", subject: \(exampleSubject), selection: \(selectionLiteral))
        let result = try berg.encode(model, berg.loadStimulus("images/"))
        """
        var card = CardRenderer.render(m)
        if card.hasPrefix("<!--"), let end = card.firstIndex(of: "\n") { card.removeSubrange(card.startIndex...end) }
        return SiteModel(
            modelID: m.modelID, version: m.version, modality: m.modality, dataset: m.trainingDataset, species: m.species,
            modelType: m.modelType, selectionSummary: BERG.selectionSummary(m),
            download: BERG.downloadSummary(m, builtIn: entry.source == BERG.builtInSource),
            source: entry.source, cardMarkdown: card,
            selection: spec.orderedKeys.compactMap { key in
                spec.properties[key].map { .init(key: key, values: $0.validValuesText, defaultValue: $0.default?.string ?? "—",
                                                 description: $0.description ?? "") }
            },
            selectionRequired: spec.required, files: siteFiles(m), commands: commands.joined(separator: "\n"), swiftCode: swift,
            checkMarkdown: check?.summaryMarkdown(), pictures: [], otherVersions: otherVersions)
    }

    /// Each file a manifest names, one row per file of a templated artifact.
    private func siteFiles(_ m: Manifest) -> [SiteModel.File] {
        func size(_ bytes: Int?) -> String { bytes.map { DownloadProgress.format(bytes: Int64($0)) } ?? "—" }
        return m.artifacts.flatMap { artifact -> [SiteModel.File] in
            let location = artifact.url ?? artifact.path ?? artifact.requirement.map { "\($0): \((artifact.members ?? []).joined(separator: ", "))" } ?? "—"
            if let files = artifact.files {
                return files.keys.sorted().map { key in
                    .init(name: "\(artifact.name): \(key)", location: Artifact.fixedFolder(of: location) + key, size: size(files[key]!.size),
                          sha256: files[key]!.sha256)
                }
            }
            return [.init(name: artifact.name, location: location, size: size(artifact.size), sha256: artifact.sha256 ?? "—")]
        }
    }

    /// The model's check: the published folder's file, a built-in one, or fetched.
    private func siteCheck(_ entry: SiteEntry) throws -> CheckResponses {
        if let file = entry.folder?.appendingPathComponent("check_responses.h5"), FileManager.default.fileExists(atPath: file.path) {
            return try CheckResponses.read(file.path)
        }
        guard entry.index == nil || registry.entries[entry.manifest.modelID]?.manifest == entry.manifest else {
            throw BERGError.unsupported("an older version's check is not fetched for its page")
        }
        return try checkResponses(entry.manifest.modelID)
    }

    /// The page's pictures, drawn (or copied) beside it: outputs per selection as a bar chart,
    /// the retinotopy maps of a visual-field model that needs no files, `accuracy.png`.
    private func pictures(for entry: SiteEntry, check: CheckResponses?, into folder: URL) throws -> [SiteModel.Picture] {
        var pictures: [SiteModel.Picture] = []
        let m = entry.manifest
        if m.placement == .visualField, m.artifacts.allSatisfy({ $0.name == BERG.checkArtifactName }),
           let subject = m.subjects.first, let selection = m.allSelections.first {
            // A model that needs no files, whichever version this page is for.
            var versionRegistry = registry
            versionRegistry.add(m, source: entry.source)
            let loader = BERG(registry: versionRegistry, artifacts: artifacts, kinds: kinds)
            let model = try loader.getEncodingModel(m.modelID, subject: subject, selection: selection)
            let result = try loader.encode(model, try BERG.stimulus(RetinotopyStimuli.make(size: 256), size: 256))
            try BERG.writeResponsePicture(result, to: folder.appendingPathComponent("retinotopy.png").path)
            pictures.append(.init(file: "retinotopy.png", caption: "Retinotopic maps that the retinotopy stimuli (berg stimuli retinotopy) measure in \(selection.description.isEmpty ? "the model" : selection.description): eccentricity, polar angle, and horizontal and vertical position."))
        }
        let unit = m.output.first?.shape.last ?? "outputs"
        var counts: [(String, Int)] = []
        if let check {
            counts = check.checks.compactMap { check in
                let label = check.selection.isEmpty ? "subject \(check.subject)" : check.selection.values.keys.sorted().map { check.selection[$0]! }.joined(separator: " ")
                return check.responses[m.output.first?.name ?? "responses"].flatMap(\.shape.last).map { (label, $0) }
            }
        } else if m.artifacts.isEmpty, let subject = m.subjects.first {
            let blank = try Stimulus(images: [UInt8](repeating: 128, count: 3 * 32 * 32), count: 1, height: 32, width: 32)
            for selection in m.allSelections where !selection.isEmpty {
                let model = try getEncodingModel(m.modelID, subject: subject, selection: selection)
                if let shape = try encode(model, blank).responses[m.output.first?.name ?? "responses"]?.shape.last {
                    counts.append((selection.values.keys.sorted().map { selection[$0]! }.joined(separator: " "), shape))
                }
            }
        }
        if !counts.isEmpty {
            var chart = BarChart(labels: counts.map(\.0), values: counts.map { Double($0.1) })
            chart.title = "\(unit) per selection"
            chart.y.label = unit
            try chart.render(width: max(360, 60 * counts.count + 120), height: 300).writePNG(to: folder.appendingPathComponent("voxel_counts.png").path)
            pictures.append(.init(file: "voxel_counts.png", caption: "Number of \(unit) per selection (subject \(m.subjects.first.map(String.init(describing:)) ?? "1"))."))
        }
        if let accuracy = entry.folder?.appendingPathComponent("accuracy.png"), FileManager.default.fileExists(atPath: accuracy.path) {
            if accuracy.deletingLastPathComponent().standardizedFileURL != folder.standardizedFileURL {
                try BERG.copy(accuracy, to: folder.appendingPathComponent("accuracy.png"))
            }
            pictures.append(.init(file: "accuracy.png", caption: "Held-out prediction accuracy of each output when the model was fitted (berg fit)."))
        }
        return pictures
    }

    /// `roi: V1, V2; hemisphere: lh, rh`.
    static func selectionSummary(_ m: Manifest) -> String {
        m.parameters.selection.orderedKeys.map { key in
            "\(key): \(m.parameters.selection.properties[key]?.validValuesText ?? "")"
        }.joined(separator: "; ")
    }

    static let builtInSource = "the built-in registry"

    /// `none (built in)`, `none` or `N file(s)`, the check not counted.
    static func downloadSummary(_ m: Manifest, builtIn: Bool) -> String {
        let files = m.artifacts.filter { $0.name != checkArtifactName }
        return files.isEmpty ? (builtIn ? "none (built in)" : "none") : "\(files.count) file(s)"
    }

}
