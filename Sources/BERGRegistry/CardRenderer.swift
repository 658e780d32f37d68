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
            guard !p.isText else { return nil }
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
                line("| `\(key)` | \(p.type) | \(cell(p.validValuesText)) | \(p.default?.string ?? "—") | \(cell(p.description ?? "")) |")
            }
        }
        line()
        line("### Options")
        line()
        if let options = m.parameters.options, !options.isEmpty {
            line("Encoding options change how the model runs (`--option NAME=VALUE`).")
            line()
            line("| option | type | default | valid values | description |")
            line("| --- | --- | --- | --- | --- |")
            for name in options.keys.sorted() {
                let o = options[name]!
                line("| `\(name)` | \(o.type.rawValue) | \(render(o.default)) | \(cell(o.choices.joined(separator: ", "))) | \(cell(o.description ?? "")) |")
            }
        } else {
            line("This model takes no options.")
        }
        line()
        line("### Encoder")
        line()
        if let p = m.encoder.preprocessing {
            line("Preprocessing, in this order:")
            line()
            preprocessingLines(p).forEach { line("- \($0)") }
            line()
        }
        if let placement = m.placement {
            let place = [.volume: "on a voxel grid (`--volume` writes them as NIfTI)", .surface: "on a surface mesh",
                         .visualField: "in the visual field (`--picture` draws them)"][placement] ?? placement.rawValue
            line("Outputs lie \(place).")
            line()
        }
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
        let outputFile = m.output.count > 1 ? "responses.h5" : "responses.npy"
        let flags = (["--subject \(exampleSubject)"] + selectFlags).joined(separator: " ")
        if !m.artifacts.isEmpty { line("berg get-model \(m.modelID) \(flags)") }
        line("berg encode \(m.modelID) \(flags) --input images/ --output \(outputFile)")
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
        line("let stimulus = try berg.loadStimulus(\"images/\")")
        line("let result = try berg.encode(model, stimulus)")
        if m.output.count == 1 {
            line("let responses = try result.response   // \(m.output[0].dtype) [\(m.output[0].shape.joined(separator: ", "))]")
        } else {
            for output in m.output {
                line("let \(output.name) = result.responses[\"\(output.name)\"]   // \(output.dtype) [\(output.shape.joined(separator: ", "))]")
            }
        }
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

    /// The preprocessing steps in words.
    private static func preprocessingLines(_ p: Preprocessing) -> [String] {
        var lines: [String] = []
        if p.squareCrop == true { lines.append("non-square images are centre-cropped to the largest square (offsets ⌊(W−S)/2⌋, ⌊(H−S)/2⌋)") }
        if let resize = p.resize {
            let how = resize == .torchvisionBilinear ? "torchvision's bilinear antialiased resize of a uint8 tensor" : "Pillow's bilinear resize"
            if let size = p.size { lines.append("resized to \(size.map(String.init).joined(separator: "×")) (height×width) with \(how)") }
            if let side = p.shorterSide { lines.append("the shorter side resized to \(side) with \(how)") }
        }
        if let crop = p.crop { lines.append("centre crop \(crop)×\(crop) (offset int(round((H − \(crop)) / 2)))") }
        if let mean = p.mean, let std = p.std {
            lines.append("scaled to [0, 1], then normalised with mean (\(mean.map(number).joined(separator: ", "))) and std (\(std.map(number).joined(separator: ", ")))")
        } else if p.resize != nil || p.crop != nil {
            lines.append("the model scales and normalises the pixels itself")
        }
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
