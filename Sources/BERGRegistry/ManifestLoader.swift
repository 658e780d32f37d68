import BERGCore
import Foundation
import Yams

/// Reads manifests strictly: YAML text → a Yams node → checked against `ManifestSchema`
/// (unknown keys, missing fields, wrong types, with their key paths) → decoded → checked for
/// consistency (id matches file name, valid values match their type, templates name known keys).
public enum ManifestLoader {
    /// Parses and validates one manifest. `file` names it in error messages; when it ends in
    /// `.yaml`, the model id must equal its stem.
    public static func load(yaml: String, file: String) throws -> Manifest {
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: yaml) else {
                throw BERGError.invalidManifest(file: file, keyPath: "", message: "the file is empty; expected a YAML map of manifest fields")
            }
            node = composed
        } catch let error as BERGError {
            throw error
        } catch {
            let text = "\(error)".replacingOccurrences(of: "\n", with: " ")
            throw BERGError.invalidManifest(file: file, keyPath: "", message: "not valid YAML: \(text)")
        }
        try check(node, against: Manifest.schema, path: "", file: file)
        let manifest: Manifest
        do {
            manifest = try YAMLDecoder().decode(Manifest.self, from: node)
        } catch {
            throw BERGError.invalidManifest(file: file, keyPath: "", message: "cannot decode: \(error)")
        }
        try checkConsistency(manifest, file: file)
        return manifest
    }

    /// Reads and validates one manifest file.
    public static func load(contentsOf url: URL) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw BERGError.fileNotFound(path: url.path, hint: "A manifest is a registry/<model_id>.yaml file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BERGError.invalidManifest(file: url.path, keyPath: "", message: "not UTF-8 text")
        }
        return try load(yaml: text, file: url.path)
    }

    // MARK: - Shape

    static func check(_ node: Node, against schema: ManifestSchema, path: String, file: String) throws {
        func fail(_ message: String) -> BERGError {
            let line = node.mark.map { " (line \($0.line))" } ?? ""
            return BERGError.invalidManifest(file: file, keyPath: path, message: message + line)
        }
        func mismatch() -> BERGError {
            fail("expected \(schema.expectation), got \(describe(node))")
        }
        switch schema {
        case .any:
            return
        case .string:
            guard case .scalar = node else { throw mismatch() }
            guard node.isTag(.str) else { throw fail("expected a string, got \(describe(node)); quote it to make it a string") }
        case .integer:
            guard case .scalar = node, node.isTag(.int), node.int != nil else { throw mismatch() }
        case .number:
            guard case .scalar = node, node.isTag(.int) || node.isTag(.float), node.float != nil else { throw mismatch() }
        case .boolean:
            guard case .scalar = node, node.isTag(.bool) else { throw mismatch() }
        case .scalar:
            guard case .scalar = node, node.isTag(.str) || node.isTag(.int) else { throw mismatch() }
        case .choice(let values):
            guard case .scalar(let scalar) = node, node.isTag(.str), values.contains(scalar.string) else { throw mismatch() }
        case .list(let element):
            guard case .sequence(let sequence) = node else { throw mismatch() }
            for (index, item) in sequence.enumerated() {
                try check(item, against: element, path: "\(path)[\(index)]", file: file)
            }
        case .map(let value):
            guard case .mapping(let mapping) = node else { throw mismatch() }
            for (key, item) in mapping {
                guard case .scalar(let keyScalar) = key else { throw fail("map keys must be strings") }
                try check(item, against: value, path: join(path, keyScalar.string), file: file)
            }
        case .object(let fields):
            guard case .mapping(let mapping) = node else { throw mismatch() }
            var seen = Set<String>()
            for (key, item) in mapping {
                guard case .scalar(let keyScalar) = key else { throw fail("map keys must be strings") }
                let name = keyScalar.string
                guard let field = fields.first(where: { $0.key == name }) else {
                    throw BERGError.invalidManifest(
                        file: file, keyPath: join(path, name),
                        message: "unknown key '\(name)'\(key.mark.map { " (line \($0.line))" } ?? ""); expected one of: \(fields.map(\.key).joined(separator: ", "))")
                }
                seen.insert(name)
                try check(item, against: field.schema, path: join(path, name), file: file)
            }
            for field in fields where field.required && !seen.contains(field.key) {
                throw BERGError.invalidManifest(
                    file: file, keyPath: join(path, field.key),
                    message: "missing required key '\(field.key)' (\(field.schema.expectation))")
            }
        }
    }

    private static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            let kind: String
            if node.isTag(.int) { kind = "integer" }
            else if node.isTag(.float) { kind = "number" }
            else if node.isTag(.bool) { kind = "boolean" }
            else if node.isTag(.null) { return "nothing (null)" }
            else { kind = "string" }
            return "\(kind) '\(scalar.string)'"
        case .sequence: return "a list"
        case .mapping: return "a map"
        case .alias: return "an alias"
        }
    }

    // MARK: - Consistency

    static func checkConsistency(_ manifest: Manifest, file: String) throws {
        func fail(_ keyPath: String, _ message: String) -> BERGError {
            BERGError.invalidManifest(file: file, keyPath: keyPath, message: message)
        }
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        if file.hasSuffix(".yaml") || file.hasSuffix(".yml"), stem != manifest.modelID {
            throw fail("model_id", "model_id '\(manifest.modelID)' must equal the file name '\(stem)'")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard !manifest.modelID.isEmpty, manifest.modelID.allSatisfy({ allowed.contains($0) }) else {
            throw fail("model_id", "'\(manifest.modelID)' must be lower-case letters, digits, '-', '_' and '.'")
        }
        try checkParameter(manifest.parameters.subject, keyPath: "parameters.subject", fail: fail)
        let selection = manifest.parameters.selection
        for key in selection.properties.keys.sorted() {
            try checkParameter(selection.properties[key]!, keyPath: "parameters.selection.properties.\(key)", fail: fail)
        }
        if let order = selection.order, Set(order) != Set(selection.properties.keys) || order.count != selection.properties.count {
            throw fail("parameters.selection.order", "must list each selection property once: \(selection.properties.keys.sorted().joined(separator: ", "))")
        }
        if manifest.output.isEmpty {
            throw fail("output", "expected at least one output array")
        }
        var names = Set<String>()
        let placeholders = Set(["subject"] + Array(selection.properties.keys))
        for (index, artifact) in manifest.artifacts.enumerated() {
            let path = "artifacts[\(index)]"
            guard names.insert(artifact.name).inserted else { throw fail("\(path).name", "artifact '\(artifact.name)' is listed twice") }
            switch artifact.source {
            case .bergBucket where artifact.path == nil: throw fail("\(path).path", "a berg-bucket artifact needs 'path'")
            case .https where artifact.url == nil: throw fail("\(path).url", "an https artifact needs 'url'")
            case .pip where artifact.requirement == nil || artifact.members == nil:
                throw fail(path, "a pip artifact needs 'requirement' and 'members'")
            default: break
            }
            if let sha = artifact.sha256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
                throw fail("\(path).sha256", "expected 64 hexadecimal digits, got '\(sha)'")
            }
            for template in [artifact.path, artifact.url].compactMap({ $0 }) + (artifact.members ?? []) {
                for field in templateFields(template) where !placeholders.contains(field) {
                    throw fail(path, "template '\(template)' names '{\(field)}'; known: \(placeholders.sorted().joined(separator: ", "))")
                }
            }
            for (key, _) in (artifact.only ?? [:]).merging(artifact.except ?? [:], uniquingKeysWith: { a, _ in a })
            where selection.properties[key] == nil {
                throw fail(path, "'only'/'except' names '\(key)', which is not a selection property")
            }
        }
    }

    private static func checkParameter(_ spec: ParameterSpec, keyPath: String,
                                       fail: (String, String) -> BERGError) throws {
        if spec.validValues.isEmpty { throw fail("\(keyPath).valid_values", "expected at least one value") }
        for (index, value) in spec.validValues.enumerated() {
            if spec.type == "int", case .string = value {
                throw fail("\(keyPath).valid_values[\(index)]", "expected an integer (type is int), got '\(value)'")
            }
        }
        if let value = spec.default, !spec.validValues.contains(value) {
            throw fail("\(keyPath).default", "'\(value)' is not one of the valid values \(spec.validStrings.joined(separator: ", "))")
        }
    }

    /// The `{name}` / `{name:02}` fields of a path template.
    static func templateFields(_ template: String) -> [String] {
        var fields: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            let inner = rest[rest.index(after: open)..<close]
            fields.append(String(inner.split(separator: ":", maxSplits: 1).first ?? ""))
            rest = rest[rest.index(after: close)...]
        }
        return fields
    }
}

extension Node {
    /// Whether the node's resolved tag is `name` (Yams keeps `Tag.name` internal).
    fileprivate func isTag(_ name: Tag.Name) -> Bool { tag.rawValue == name.rawValue }
}
