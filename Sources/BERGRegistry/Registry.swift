import BERGCore
import Foundation

/// All manifests BERG knows: the built-in ones compiled into the binary, then those in the
/// folders the user adds (`--registry DIR`, `BERG_REGISTRY_PATH`). A later folder's manifest
/// replaces an earlier one with the same id, so a user can override a built-in model.
public struct Registry: Sendable {
    public struct Entry: Sendable {
        public var manifest: Manifest
        /// `built-in` or the manifest's file path.
        public var source: String
    }

    public private(set) var entries: [String: Entry] = [:]

    /// An empty registry.
    public init() {}

    /// The built-in manifests plus each folder in `directories`, in order.
    public init(directories: [URL], includeBuiltin: Bool = true) throws {
        if includeBuiltin {
            for manifest in try Registry.builtinManifests() {
                entries[manifest.modelID] = Entry(manifest: manifest, source: "built-in")
            }
        }
        for directory in directories {
            for (manifest, path) in try Registry.loadDirectory(directory) {
                entries[manifest.modelID] = Entry(manifest: manifest, source: path)
            }
        }
    }

    /// The manifests compiled into the binary, validated.
    public static func builtinManifests() throws -> [Manifest] {
        try BuiltinManifests.files.map { try ManifestLoader.load(yaml: $0.text, file: "registry/\($0.name)") }
    }

    /// The built-in manifests, then `BERG_REGISTRY_PATH` (colon-separated), then `directories`.
    /// A folder that does not exist is an error naming where it came from.
    public static func standard(adding directories: [URL] = [],
                                environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Registry {
        let fromEnvironment = (environment["BERG_REGISTRY_PATH"] ?? "")
            .split(separator: ":").filter { !$0.isEmpty }
            .map { URL(fileURLWithPath: String($0)) }
        for folder in fromEnvironment where !Registry.isFolder(folder) {
            throw BERGError.invalidArgument(name: "BERG_REGISTRY_PATH", value: environment["BERG_REGISTRY_PATH"] ?? "",
                                            message: "\(folder.path) is not a folder; it lists folders of <model_id>.yaml manifests, separated by ':'")
        }
        for folder in directories where !Registry.isFolder(folder) {
            throw BERGError.invalidArgument(name: "registry folder", value: folder.path,
                                            message: "not a folder; a registry is a folder of <model_id>.yaml manifests")
        }
        return try Registry(directories: fromEnvironment + directories)
    }

    static func isFolder(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Every `*.yaml` manifest in a folder, validated, in file-name order.
    public static func loadDirectory(_ directory: URL) throws -> [(Manifest, String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BERGError.fileNotFound(path: directory.path, hint: "A registry is a folder of <model_id>.yaml manifests")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) }
        catch { throw BERGError.corruptFile(path: directory.path, offset: nil, message: "cannot list: \(error.localizedDescription)") }
        return try names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { name in
            let url = directory.appendingPathComponent(name)
            return (try ManifestLoader.load(contentsOf: url), url.path)
        }
    }

    /// Adds a manifest under its id, replacing any with that id. `source` says where it came from.
    public mutating func add(_ manifest: Manifest, source: String) {
        entries[manifest.modelID] = Entry(manifest: manifest, source: source)
    }

    /// Adds a manifest from elsewhere (a published index) under its id, unless a manifest with
    /// that id is already here; returns whether it was added. `source` says where it came from.
    @discardableResult
    public mutating func addIfAbsent(_ manifest: Manifest, source: String) -> Bool {
        guard entries[manifest.modelID] == nil else { return false }
        entries[manifest.modelID] = Entry(manifest: manifest, source: source)
        return true
    }

    // MARK: - Lookup

    /// All model ids, sorted; with a pattern, those it matches (`*` any run, `?` one character).
    public func listModels(matching pattern: String? = nil) -> [String] {
        let ids = entries.keys.sorted()
        guard let pattern else { return ids }
        return ids.filter { Registry.wildcardMatch(pattern, $0) }
    }

    /// The manifest for a model id, or `unknownModel` listing the known ids.
    public func manifest(_ id: String) throws -> Manifest {
        guard let entry = entries[id] else {
            throw BERGError.unknownModel(id: id, known: listModels())
        }
        return entry.manifest
    }

    /// Modality → the training datasets of the models with that modality, sorted.
    public func catalog() -> [String: [String]] {
        var result: [String: Set<String>] = [:]
        for entry in entries.values {
            result[entry.manifest.modality, default: []].insert(entry.manifest.trainingDataset)
        }
        return result.mapValues { $0.sorted() }
    }

    /// Checks a subject and selection against a manifest and returns the selection with
    /// defaults filled in. Errors list the valid values.
    public func resolve(_ manifest: Manifest, subject: Subject, selection: Selection) throws -> Selection {
        let id = manifest.modelID
        let subjects = manifest.parameters.subject.validStrings
        guard subjects.contains(String(subject.number)) else {
            throw BERGError.invalidParameter(model: id, name: "subject", value: String(subject.number), valid: subjects)
        }
        let spec = manifest.parameters.selection
        for key in selection.values.keys.sorted() where spec.properties[key] == nil {
            let takes = spec.orderedKeys.isEmpty ? "takes no selection" : "takes: \(spec.orderedKeys.joined(separator: ", "))"
            throw BERGError.invalidSelection(model: id, message: "unknown selection key '\(key)'; this model \(takes)")
        }
        var resolved = selection
        for key in spec.orderedKeys {
            let property = spec.properties[key]!
            if let value = selection[key] {
                if property.isText {
                    guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                        throw BERGError.invalidSelection(model: id, message: "'\(key)' is empty; \(property.description ?? "give a value")")
                    }
                    continue
                }
                guard property.validStrings.contains(value) else {
                    throw BERGError.invalidParameter(model: id, name: key, value: value, valid: property.validStrings)
                }
            } else if let value = property.default {
                resolved[key] = value.string
            } else if spec.required {
                throw BERGError.invalidSelection(
                    model: id, message: "'\(key)' is required. Valid values: \(property.validValuesText)")
            }
        }
        return resolved
    }

    /// Shell-style wildcard match: `*` matches any run of characters, `?` one character.
    public static func wildcardMatch(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
