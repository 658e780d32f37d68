import BERGCore
import Foundation

/// Where a published index (`index.yaml`, written by `berg publish`) is: an https URL, an http
/// URL on a loopback address, or a local file, always naming the index file itself.
public struct IndexLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let url: URL

    /// From what a user gives: an https URL, an http URL on 127.0.0.1, ::1 or localhost, a
    /// `file://` URL or a path, each of the index file or of the folder that holds it. Plain
    /// http elsewhere is refused: anyone on the way could change what it lists.
    public init(_ text: String) throws {
        func refuse(_ message: String) -> BERGError { .invalidArgument(name: "registry URL", value: text, message: message) }
        if let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme.count > 1 {
            switch scheme {
            case "https", "http":
                guard let host = url.host, !host.isEmpty else { throw refuse("the URL has no host") }
                if scheme == "http", !IndexLocation.isLoopback(host) {
                    throw refuse("plain http is refused except on a loopback address (127.0.0.1, ::1, localhost); use https")
                }
                self.url = IndexLocation.namingIndexFile(url)
                return
            case "file":
                self = try IndexLocation(localPath: url.path, given: text)
                return
            default:
                throw refuse("expected an https URL, an http URL on a loopback address, or a local folder")
            }
        }
        self = try IndexLocation(localPath: text, given: text)
    }

    private init(localPath: String, given: String) throws {
        var isFolder: ObjCBool = false
        let absolute = URL(fileURLWithPath: localPath).standardizedFileURL
        guard FileManager.default.fileExists(atPath: absolute.path, isDirectory: &isFolder) else {
            throw BERGError.invalidArgument(name: "registry URL", value: given,
                                            message: "no such file or folder; give the folder `berg publish --to` wrote (it holds index.yaml) or the URL of its index.yaml")
        }
        url = isFolder.boolValue ? absolute.appendingPathComponent("index.yaml") : absolute
        if isFolder.boolValue, !FileManager.default.fileExists(atPath: url.path) {
            throw BERGError.invalidArgument(name: "registry URL", value: given,
                                            message: "the folder holds no index.yaml; is it a folder that `berg publish --to` wrote?")
        }
    }

    public var description: String { url.isFileURL ? url.path : url.absoluteString }

    /// Whether the index is a local file (read in place, never cached).
    public var isLocal: Bool { url.isFileURL }

    /// The URL of a path relative to the index's folder.
    public func resolve(_ relative: String) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(relative)
    }

    /// The index's folder in the cache, relative to its root: `registries/HOST[_PORT]/PATH`.
    var cacheFolder: String {
        let host = (url.host ?? "local") + (url.port.map { "_\($0)" } ?? "")
        let folder = url.deletingLastPathComponent().path.split(separator: "/").filter { $0 != ".." && $0 != "." }
        return (["registries", host] + folder.map(String.init)).joined(separator: "/")
    }

    /// 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    /// A URL of a folder (or one that does not name a YAML file) gets `index.yaml` appended.
    private static func namingIndexFile(_ url: URL) -> URL {
        let name = url.lastPathComponent.lowercased()
        if name.hasSuffix(".yaml") || name.hasSuffix(".yml") { return url }
        return url.appendingPathComponent("index.yaml")
    }
}
