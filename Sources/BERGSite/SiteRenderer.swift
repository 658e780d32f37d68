import Foundation
import Ink
import Mustache

/// Renders the catalogue's pages: `index.html` (a table of every model, with search and filters
/// by modality, dataset, species and model type) and `<id>/<version>/index.html` (the card, the
/// selection's values, the files, commands to copy, the check and pictures).
///
/// Every value goes through Mustache's HTML escaping; the card and check Markdown go through
/// Ink with raw HTML turned into text and links kept only for plain http(s) addresses, so
/// nothing a manifest says can become markup. Links are relative: the site works from any path
/// or straight from the disk, and with JavaScript off (all but the filters).
public enum SiteRenderer {
    /// The index page.
    public static func indexPage(_ models: [SiteModel], title: String, note: String) throws -> String {
        func choices(_ values: [String]) -> [[String: String]] { Set(values).sorted().map { ["value": $0] } }
        let context: [String: Any] = [
            "title": title,
            "pageTitle": title,
            "note": note,
            "count": models.count,
            "style": style,
            "script": indexScript,
            "modalities": choices(models.map(\.modality)),
            "datasets": choices(models.map(\.dataset)),
            "species": choices(models.map(\.species)),
            "types": choices(models.map(\.modelType)),
            "models": models.map { model -> [String: Any] in
                ["id": model.modelID, "version": model.version, "link": model.folder + "/index.html", "modality": model.modality,
                 "dataset": model.dataset, "species": model.species, "type": model.modelType,
                 "selection": model.selectionSummary, "download": model.download]
            },
        ]
        return try render(indexTemplate, context)
    }

    /// A model's page, for `<id>/<version>/index.html`.
    public static func modelPage(_ model: SiteModel, siteTitle: String) throws -> String {
        let context: [String: Any] = [
            "siteTitle": siteTitle,
            "pageTitle": "\(model.modelID) \(model.version) · \(siteTitle)",
            "style": style,
            "id": model.modelID,
            "version": model.version,
            "source": model.source,
            "card": markdownHTML(model.cardMarkdown),
            "selection": model.selection.map { ["key": $0.key, "values": $0.values, "default": $0.defaultValue, "description": $0.description] },
            "hasSelection": !model.selection.isEmpty,
            "selectionRequired": model.selectionRequired,
            "files": model.files.map { ["name": $0.name, "location": $0.location, "size": $0.size, "sha256": $0.sha256] },
            "hasFiles": !model.files.isEmpty,
            "commands": model.commands,
            "swift": model.swiftCode,
            "check": model.checkMarkdown.map(markdownHTML) ?? "",
            "hasCheck": model.checkMarkdown != nil,
            "pictures": model.pictures.map { ["file": $0.file, "caption": $0.caption] },
            "hasPictures": !model.pictures.isEmpty,
            "versions": model.otherVersions.map { ["version": $0, "link": "../" + SiteModel.pathPart($0) + "/index.html"] },
            "hasVersions": !model.otherVersions.isEmpty,
        ]
        return try render(modelTemplate, context)
    }

    private static func render(_ template: String, _ context: [String: Any]) throws -> String {
        let library = MustacheLibrary(templates: ["head": try MustacheTemplate(string: headTemplate)])
        return try MustacheTemplate(string: template).render(context, library: library)
    }

    /// Markdown as HTML in which only Ink's own markup is markup: raw HTML becomes text, and a
    /// link or image whose address is not a plain http(s) URL becomes its text.
    static func markdownHTML(_ markdown: String) -> String {
        let escape = { (text: Substring) in escaped(String(text)) }
        let parser = MarkdownParser(modifiers: [
            Modifier(target: .html) { escape($0.markdown) },
            Modifier(target: .links) { isPlainWebLink($0.markdown) ? $0.html : escape($0.markdown) },
            Modifier(target: .images) { isPlainWebLink($0.markdown) ? $0.html : escape($0.markdown) },
        ])
        return parser.html(from: markdown)
    }

    /// `[text](https://…)` or `![alt](https://…)` whose address has nothing that could end
    /// the attribute Ink writes it into.
    static func isPlainWebLink(_ markdown: Substring) -> Bool {
        guard markdown.hasSuffix(")"), let open = markdown.range(of: "](", options: .backwards) else { return false }
        let address = markdown[open.upperBound..<markdown.index(before: markdown.endIndex)]
        guard address.hasPrefix("https://") || address.hasPrefix("http://") else { return false }
        return !address.contains { "\"'<>`\\ \n\t".contains($0) }
    }

    /// Text HTML-escaped by the template engine itself.
    static func escaped(_ text: String) -> String {
        (try? MustacheTemplate(string: "{{text}}"))?.render(["text": text]) ?? ""
    }
}
