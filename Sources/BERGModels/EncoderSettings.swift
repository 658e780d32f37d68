import BERGCore
import BERGRegistry

/// Typed, strict access to a manifest's free-form `encoder.settings`: a missing key, a wrong
/// type or an unknown key is an `invalidManifest` error with its key path.
public struct EncoderSettings: Sendable {
    public let values: [String: ManifestValue]
    public let file: String
    public let path: String

    public init(_ manifest: Manifest) {
        self.init(values: manifest.encoder.settings, file: manifest.modelID, path: "encoder.settings")
    }

    init(values: [String: ManifestValue], file: String, path: String) {
        self.values = values
        self.file = file
        self.path = path
    }

    public var keys: [String] { values.keys.sorted() }

    func fail(_ key: String, _ message: String) -> BERGError {
        BERGError.invalidManifest(file: file, keyPath: "\(path).\(key)", message: message)
    }

    func value(_ key: String) throws -> ManifestValue {
        guard let value = values[key] else { throw fail(key, "missing required setting '\(key)'") }
        return value
    }

    public func double(_ key: String) throws -> Double {
        guard let d = try value(key).doubleValue else { throw fail(key, "expected a number") }
        return d
    }

    public func int(_ key: String) throws -> Int {
        guard let i = try value(key).intValue else { throw fail(key, "expected an integer") }
        return i
    }

    public func string(_ key: String) throws -> String {
        guard let s = try value(key).stringValue else { throw fail(key, "expected a string") }
        return s
    }

    public func bool(_ key: String) throws -> Bool {
        guard let b = try value(key).boolValue else { throw fail(key, "expected true or false") }
        return b
    }

    public func map(_ key: String) throws -> EncoderSettings {
        guard let m = try value(key).mapValue else { throw fail(key, "expected a map") }
        return EncoderSettings(values: m, file: file, path: "\(path).\(key)")
    }

    /// Fails on a key outside `known`, so that a misspelt setting is not silently ignored.
    public func rejectUnknownKeys(_ known: Set<String>) throws {
        for key in keys where !known.contains(key) {
            throw fail(key, "unknown setting '\(key)'; expected one of: \(known.sorted().joined(separator: ", "))")
        }
    }
}
