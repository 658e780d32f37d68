import BERGCore
import Foundation
import Yams

/// `index.yaml` of a folder that `berg publish` writes: every published model id and version,
/// each with its manifest's path (relative to the index) and the SHA-256 of its bytes.
///
/// ```yaml
/// format: 1
/// models:
///   - model_id: lab-v1-ridge
///     version: "1.0"
///     manifest: lab-v1-ridge/1.0/manifest.yaml
///     sha256: 9f2c…
/// ```
public struct PublishedIndex: Codable, Sendable, Equatable {
    /// The layout's version; this build reads 1.
    public var format: Int
    public var models: [Entry]

    public struct Entry: Codable, Sendable, Equatable {
        public var modelID: String
        public var version: String
        /// The manifest's path relative to the index's folder.
        public var manifest: String
        public var sha256: String

        public init(modelID: String, version: String, manifest: String, sha256: String) {
            self.modelID = modelID
            self.version = version
            self.manifest = manifest
            self.sha256 = sha256
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case modelID = "model_id", version, manifest, sha256 }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case format, models }

    public static let currentFormat = 1

    public init(models: [Entry] = []) {
        format = PublishedIndex.currentFormat
        self.models = models
    }

    /// Reads an index strictly: unknown keys, missing fields, a manifest path that is not a
    /// plain relative path, a bad SHA-256 or an id and version listed twice name what is wrong.
    public static func load(yaml: String, file: String) throws -> PublishedIndex {
        func fail(_ keyPath: String, _ message: String) -> BERGError {
            .invalidManifest(file: file, keyPath: keyPath, message: message)
        }
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: yaml) else { throw fail("", "the file is empty; expected a published index (format, models)") }
            node = composed
        } catch let error as BERGError {
            throw error
        } catch {
            throw fail("", "not valid YAML: \("\(error)".replacingOccurrences(of: "\n", with: " "))")
        }
        try ManifestLoader.check(node, against: schema, path: "", file: file)
        let index: PublishedIndex
        do { index = try YAMLDecoder().decode(PublishedIndex.self, from: node) } catch {
            throw fail("", "cannot decode: \(error)")
        }
        guard index.format == currentFormat else {
            throw fail("format", "this build reads format \(currentFormat), the index has \(index.format); update BERG")
        }
        var seen = Set<String>()
        for (position, entry) in index.models.enumerated() {
            let keyPath = "models[\(position)]"
            guard seen.insert("\(entry.modelID)@\(entry.version)").inserted else {
                throw fail(keyPath, "\(entry.modelID) version \(entry.version) is listed twice")
            }
            guard ManifestLoader.isSHA256(entry.sha256) else {
                throw fail("\(keyPath).sha256", "expected 64 hexadecimal digits, got '\(entry.sha256)'")
            }
            guard isPlainRelativePath(entry.manifest) else {
                throw fail("\(keyPath).manifest", "'\(entry.manifest)' must be a path relative to the index, without '..'")
            }
        }
        return index
    }

    /// The index as YAML, entries sorted by id and then version.
    public func yamlText() throws -> String {
        var sorted = self
        sorted.models.sort { ($0.modelID, ModelVersion($0.version)) < ($1.modelID, ModelVersion($1.version)) }
        do {
            return "# Published models, written by `berg publish`. Add it with: berg registry add NAME URL-OF-THIS-FILE\n"
                + (try YAMLEncoder().encode(sorted))
        } catch {
            throw BERGError.writeFailed(path: "index.yaml", message: "cannot encode as YAML: \(error)")
        }
    }

    /// The newest version of each id, in id order.
    public var newest: [Entry] {
        Dictionary(grouping: models, by: \.modelID).values
            .compactMap { $0.max { ModelVersion($0.version) < ModelVersion($1.version) } }
            .sorted { $0.modelID < $1.modelID }
    }

    public static func isPlainRelativePath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return !path.isEmpty && !path.hasPrefix("/") && !path.contains(":") && !path.contains("\\")
            && !parts.contains("..") && !parts.contains("")
    }

    static var schema: ManifestSchema {
        let entry = ManifestSchema.object(Entry.CodingKeys.allCases.map { .init(key: $0.stringValue, required: true, schema: .string) })
        return .object([.init(key: CodingKeys.format.stringValue, required: true, schema: .integer),
                        .init(key: CodingKeys.models.stringValue, required: true, schema: .list(entry))])
    }
}

/// A version string ordered as people read it: numeric parts by value (1.10 after 1.9), the
/// rest by text.
public struct ModelVersion: Comparable, Sendable {
    let parts: [String]

    public init(_ text: String) {
        parts = text.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "+" }).map(String.init)
    }

    public static func < (a: ModelVersion, b: ModelVersion) -> Bool {
        for (x, y) in zip(a.parts, b.parts) where x != y {
            if let i = Int(x), let j = Int(y) { return i < j }
            return x < y
        }
        return a.parts.count < b.parts.count
    }

    public static func == (a: ModelVersion, b: ModelVersion) -> Bool { !(a < b) && !(b < a) }
}
