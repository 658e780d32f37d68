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
        var manifest = try load(yaml: text, file: url.path)
        manifest.sourceFolder = url.deletingLastPathComponent().path
        return manifest
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
        // A model package's `manifest.yaml` may hold any id.
        if file.hasSuffix(".yaml") || file.hasSuffix(".yml"), stem != manifest.modelID, stem != "manifest" {
            throw fail("model_id", "model_id '\(manifest.modelID)' must equal the file name '\(stem)' (or the file be a model package's manifest.yaml)")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard !manifest.modelID.isEmpty, manifest.modelID.allSatisfy({ allowed.contains($0) }) else {
            throw fail("model_id", "'\(manifest.modelID)' must be lower-case letters, digits, '-', '_' and '.'")
        }
        if manifest.parameters.subject.isText {
            throw fail("parameters.subject.type", "a subject is int or string, with valid_values; text is for selection keys")
        }
        try checkParameter(manifest.parameters.subject, keyPath: "parameters.subject", fail: fail)
        let selection = manifest.parameters.selection
        for key in selection.properties.keys.sorted() {
            try checkParameter(selection.properties[key]!, keyPath: "parameters.selection.properties.\(key)", fail: fail)
        }
        if let order = selection.order, Set(order) != Set(selection.properties.keys) || order.count != selection.properties.count {
            throw fail("parameters.selection.order", "must list each selection property once: \(selection.properties.keys.sorted().joined(separator: ", "))")
        }
        for (name, option) in (manifest.parameters.options ?? [:]).sorted(by: { $0.key < $1.key }) {
            let keyPath = "parameters.options.\(name)"
            if selection.properties[name] != nil {
                throw fail(keyPath, "'\(name)' is both a selection key and an option; give it one role")
            }
            do { _ = try option.value(option.default) } catch let problem as OptionValueProblem {
                throw fail("\(keyPath).default", problem.message)
            }
            for (index, value) in (option.validValues ?? []).enumerated() {
                do { _ = try option.value(.init(value)) } catch let problem as OptionValueProblem {
                    throw fail("\(keyPath).valid_values[\(index)]", problem.message)
                }
            }
        }
        if let preprocessing = manifest.encoder.preprocessing {
            try checkPreprocessing(preprocessing, fail: { fail("encoder.preprocessing.\($0)", $1) })
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
            if let sha = artifact.sha256, !isSHA256(sha) {
                throw fail("\(path).sha256", "expected 64 hexadecimal digits, got '\(sha)'")
            }
            for (name, checksum) in (artifact.files ?? [:]).sorted(by: { $0.key < $1.key }) {
                if !isSHA256(checksum.sha256) {
                    throw fail("\(path).files.\(name).sha256", "expected 64 hexadecimal digits, got '\(checksum.sha256)'")
                }
                if checksum.size < 0 { throw fail("\(path).files.\(name).size", "must not be negative") }
            }
            if artifact.files != nil, artifact.sha256 != nil {
                throw fail("\(path).files", "give sha256 for one file or files for a template, not both")
            }
            for template in [artifact.path, artifact.url].compactMap({ $0 }) + (artifact.members ?? []) {
                for field in templateFields(template) where !placeholders.contains(field) {
                    throw fail(path, "template '\(template)' names '{\(field)}'; known: \(placeholders.sorted().joined(separator: ", "))")
                }
            }
            for (key, _) in (artifact.only ?? [:]).merging(artifact.except ?? [:], uniquingKeysWith: { a, _ in a })
            where selection.properties[key] == nil && manifest.parameters.options?[key] == nil {
                throw fail(path, "'only'/'except' names '\(key)', which is neither a selection property nor an option")
            }
        }
    }

    private static func checkPreprocessing(_ p: Preprocessing, fail: (String, String) -> BERGError) throws {
        if let size = p.size, size.count != 2 || size.contains(where: { $0 < 1 }) {
            throw fail("size", "expected [height, width], two positive integers")
        }
        if p.size != nil, p.shorterSide != nil { throw fail("size", "give size or shorter_side, not both") }
        if p.resize != nil, p.size == nil, p.shorterSide == nil { throw fail("resize", "needs size or shorter_side") }
        if p.resize == nil, p.size != nil || p.shorterSide != nil { throw fail("resize", "size and shorter_side need a resize algorithm") }
        if let side = p.shorterSide, side < 1 { throw fail("shorter_side", "must be positive") }
        if let crop = p.crop {
            guard crop >= 1 else { throw fail("crop", "must be positive") }
            if let side = p.shorterSide, crop > side { throw fail("crop", "\(crop) is larger than shorter_side \(side)") }
            if let size = p.size, size.count == 2, crop > min(size[0], size[1]) { throw fail("crop", "\(crop) is larger than size \(size)") }
        }
        if (p.mean == nil) != (p.std == nil) { throw fail(p.mean == nil ? "mean" : "std", "give mean and std together") }
        if let mean = p.mean, mean.count != 3 { throw fail("mean", "expected 3 numbers (R, G, B)") }
        if let std = p.std {
            guard std.count == 3 else { throw fail("std", "expected 3 numbers (R, G, B)") }
            guard std.allSatisfy({ $0 > 0 }) else { throw fail("std", "must be positive") }
        }
    }

    private static func checkParameter(_ spec: ParameterSpec, keyPath: String,
                                       fail: (String, String) -> BERGError) throws {
        if spec.isText {
            if !spec.validValues.isEmpty {
                throw fail("\(keyPath).valid_values", "a text key takes any string, so it lists no valid_values; use type string to list them")
            }
            if spec.default != nil { throw fail("\(keyPath).default", "a text key has no default") }
            return
        }
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

    /// 64 hexadecimal digits.
    public static func isSHA256(_ text: String) -> Bool {
        text.count == 64 && text.allSatisfy(\.isHexDigit)
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
