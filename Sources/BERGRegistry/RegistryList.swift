import BERGCore
import Foundation
import Yams

/// `$BERG_HOME/registries.yaml`: the published indexes a user added with `berg registry add`,
/// in the order added. Every command that reads the registry reads their models too.
///
/// ```yaml
/// registries:
///   - name: lab
///     url: https://lab.example.org/berg/index.yaml
/// ```
public struct RegistryList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        /// The index's location: an https URL, an http URL on a loopback address, or a
        /// `file://` URL, always ending in the index file's name.
        public var url: String

        public init(name: String, url: String) {
            self.name = name
            self.url = url
        }
    }

    public var registries: [Entry]

    public init(registries: [Entry] = []) { self.registries = registries }

    /// The file's place in a BERG home.
    public static func file(home: URL) -> URL { home.appendingPathComponent("registries.yaml") }

    /// The list at `url`, or an empty one when there is no file yet.
    public static func load(_ url: URL) throws -> RegistryList {
        guard let data = FileManager.default.contents(atPath: url.path) else { return RegistryList() }
        let text = String(decoding: data, as: UTF8.self)
        let schema = ManifestSchema.object([
            .init(key: "registries", required: true, schema: .list(.object([
                .init(key: "name", required: true, schema: .string),
                .init(key: "url", required: true, schema: .string)]))),
        ])
        do {
            guard let node = try Yams.compose(yaml: text) else { return RegistryList() }
            try ManifestLoader.check(node, against: schema, path: "", file: url.path)
            return try YAMLDecoder().decode(RegistryList.self, from: node)
        } catch let error as BERGError {
            throw error
        } catch {
            throw BERGError.corruptFile(path: url.path, offset: nil,
                                        message: "not a list of registries (\(error)); fix it or remove it and add the registries again with `berg registry add`")
        }
    }

    /// The list as YAML.
    public func yamlText() throws -> String {
        do {
            return "# Published model indexes, added with `berg registry add NAME URL`.\n" + (try YAMLEncoder().encode(self))
        } catch {
            throw BERGError.writeFailed(path: "registries.yaml", message: "cannot encode as YAML: \(error)")
        }
    }

    /// Registry names: letters, digits, '-', '_' and '.', starting with a letter or digit.
    public static func checkName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard let first = name.first, first.isLetter || first.isNumber, name.allSatisfy({ allowed.contains($0) }) else {
            throw BERGError.invalidArgument(name: "registry name", value: name,
                                            message: "use letters, digits, '-', '_' and '.', starting with a letter or digit")
        }
    }
}
