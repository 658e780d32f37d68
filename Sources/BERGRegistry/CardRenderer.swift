import BERGCore
import Foundation

/// Renders a model card (Markdown) from a manifest alone. `model_cards/<id>.md` holds this
/// rendering; a test fails when a committed card differs from it.
public enum CardRenderer {
    public static func render(_ m: Manifest) -> String {
        var out: [String] = []
        func line(_ s: String = "") { out.append(s) }
        let selectionKeys = m.parameters.selection.orderedKeys
        let exampleSubject = m.parameters.subject.default?.string ?? m.parameters.subject.validStrings.first ?? "1"
        let exampleSelection: [(String, String)] = selectionKeys.compactMap { key in
            guard let p = m.parameters.selection.properties[key] else { return nil }
            return (key, p.default?.string ?? p.validStrings.first ?? "")
        }

        line("<!-- Rendered from registry/\(m.modelID).yaml by `berg card`. Do not edit by hand. -->")
        line("# \(m.modelID)")
        line()
        line("| field | value |")
        line("| --- | --- |")
        for (name, value) in [("model id", "`\(m.modelID)`"), ("version", m.version), ("modality", m.modality),
                              ("training dataset", m.trainingDataset), ("species", m.species), ("stimuli", m.stimuli),
                              ("model type", m.modelType), ("encoder kind", "`\(m.encoder.kind)`"),
                              ("creator", m.creator), ("license", m.license),
                              ("download", m.artifacts.isEmpty ? "none (built in)" : totalSize(m.artifacts))] {
            line("| \(name) | \(cell(value)) |")
        }
        line()
        line("## Description")
        line()
        line(m.description.trimmingTrailingWhitespace)
        line()
        line("## Input")
        line()
        tensorLines(m.input).forEach { line($0) }
        line()
        line("## Output")
        line()
        for spec in m.output { tensorLines(spec).forEach { line($0) } }
        line()
        line("## Parameters")
        line()
        line("### Subject")
        line()
        let subject = m.parameters.subject
        line("- type: \(subject.type); valid values: \(subject.validStrings.joined(separator: ", "))")
        if let d = subject.description { line("- \(d)") }
        line()
        line("### Selection")
        line()
        if selectionKeys.isEmpty {
            line("This model takes no selection.")
        } else {
            line("Selection is \(m.parameters.selection.required ? "required" : "optional").")
            line()
            line("| key | type | valid values | default | description |")
            line("| --- | --- | --- | --- | --- |")
            for key in selectionKeys {
                guard let p = m.parameters.selection.properties[key] else { continue }
                line("| `\(key)` | \(p.type) | \(cell(p.validStrings.joined(separator: ", "))) | \(p.default?.string ?? "—") | \(cell(p.description ?? "")) |")
            }
        }
        line()
        line("### Encoder")
        line()
        line("Kind `\(m.encoder.kind)`, with these settings:")
        line()
        line("| setting | value |")
        line("| --- | --- |")
        for key in m.encoder.settings.keys.sorted() {
            line("| `\(key)` | \(cell(render(m.encoder.settings[key]!))) |")
        }
        line()
        line("### Artifacts")
        line()
        if m.artifacts.isEmpty {
            line("None: the model needs no download.")
        } else {
            line("| name | source | location | size | sha256 |")
            line("| --- | --- | --- | --- | --- |")
            for a in m.artifacts {
                let location = a.path ?? a.url ?? a.requirement.map { "\($0): \((a.members ?? []).joined(separator: ", "))" } ?? "—"
                line("| `\(a.name)` | \(a.source.rawValue) | `\(location)` | \(a.size.map(byteCount) ?? "—") | \(a.sha256.map { "`\($0.prefix(12))…`" } ?? "—") |")
            }
        }
        line()
        line("## Metadata")
        line()
        if let fields = m.metadata, !fields.isEmpty {
            line("| name | shape | description |")
            line("| --- | --- | --- |")
            for f in fields {
                line("| `\(f.name)` | \(f.shape.map { "[\($0.joined(separator: ", "))]" } ?? "scalar") | \(cell(f.description)) |")
            }
            line()
        }
        line("Every result also records the model id, subject, selection and BERG version.")
        line()
        line("## Usage")
        line()
        line("Command line:")
        line()
        line("```sh")
        let selectFlags = exampleSelection.map { key, value in key == "roi" ? "--roi \(value)" : "--select \(key)=\(value)" }
        let flags = (["--subject \(exampleSubject)"] + selectFlags).joined(separator: " ")
        if !m.artifacts.isEmpty { line("berg get-model \(m.modelID) \(flags)") }
        line("berg encode \(m.modelID) \(flags) --input images/ --output responses.h5")
        line("berg metadata \(m.modelID) \(flags) --json")
        line("```")
        line()
        line("Swift:")
        line()
        line("```swift")
        line("import BERG")
        line()
        let selectionLiteral = exampleSelection.isEmpty ? "[:]" : "[" + exampleSelection.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ") + "]"
        line("let berg = try BERG()")
        line("let model = try berg.getEncodingModel(\"\(m.modelID)\", subject: \(exampleSubject),")
        line("                                      selection: \(selectionLiteral))")
        line("let stimulus = try StimulusLoader.load(\"images/\", squareCrop: \(m.encoder.squareCrop))")
        line("let result = try berg.encode(model, stimulus)")
        line("let responses = result.responses[\"\(m.output.first?.name ?? "responses")\"]")
        line("```")
        line()
        line("## References")
        line()
        for r in m.references {
            var text = "- \(r.citation)"
            if let doi = r.doi { text += " doi:\(doi)" }
            if let url = r.url { text += " <\(url)>" }
            line(text)
        }
        return out.joined(separator: "\n") + "\n"
    }

    private static func tensorLines(_ spec: TensorSpec) -> [String] {
        var text = "- `\(spec.name)`: \(spec.dtype) [\(spec.shape.joined(separator: ", "))]"
        if let range = spec.valueRange, range.count == 2 { text += ", values in [\(number(range[0])), \(number(range[1]))]" }
        var lines = [text]
        if let d = spec.description { lines.append("  \(d.trimmingTrailingWhitespace)") }
        return lines
    }

    private static func render(_ value: ManifestValue) -> String {
        switch value {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return number(d)
        case .string(let s): return s.trimmingTrailingWhitespace
        case .list(let l): return "[" + l.map(render).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.keys.sorted().map { "\($0): \(render(m[$0]!))" }.joined(separator: ", ") + "}"
        }
    }

    private static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }

    private static func totalSize(_ artifacts: [Artifact]) -> String {
        let sizes = artifacts.compactMap(\.size)
        return sizes.isEmpty ? "\(artifacts.count) files" : "\(artifacts.count) files, \(byteCount(sizes.reduce(0, +)))"
    }

    private static func byteCount(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(n), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// A table cell: one line, pipes escaped.
    private static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")
    }
}

extension String {
    var trimmingTrailingWhitespace: String {
        var s = self
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}
