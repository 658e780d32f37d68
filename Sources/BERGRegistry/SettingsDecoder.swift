import BERGCore

/// A problem with one encoder setting, thrown from a settings type's `validate()` (or its own
/// `init(from:)`): the decoder turns it into `invalidManifest` at `encoder.settings.<key>`.
public struct SettingsProblem: Error, Sendable {
    /// The setting's key as the manifest spells it (`contrast_grid`, `areas.V1.gain`).
    public let key: String
    public let message: String
    public init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }
}

/// An encoder kind's typed settings, decoded from the manifest's `encoder.settings` when the
/// manifest is checked (`berg registry check`) and again when a model is built. Properties
/// map to snake_case keys (`contrastGrid` ← `contrast_grid`); an optional property may be
/// left out; a key the type never asks for is an error, so a misspelt setting is not ignored.
public protocol EncoderSettingsType: Decodable, Sendable {
    /// Checks beyond types (ranges, consistency); throw `SettingsProblem`.
    func validate() throws
}

extension EncoderSettingsType {
    public func validate() throws {}
}

/// Decodes `Decodable` values from manifest values, strictly: wrong types, missing keys and
/// unknown keys are `invalidManifest` errors naming their key path.
public enum SettingsDecoder {
    public static func decode<T: EncoderSettingsType>(_ type: T.Type, from manifest: Manifest) throws -> T {
        try decode(type, from: manifest.encoder.settings, file: manifest.modelID, path: "encoder.settings")
    }

    public static func decode<T: EncoderSettingsType>(_ type: T.Type, from settings: [String: ManifestValue],
                                                      file: String, path: String) throws -> T {
        let log = AccessLog()
        let decoder = ValueDecoder(value: .map(settings), codingPath: [], log: log)
        func fail(_ keyPath: String, _ message: String) -> BERGError {
            BERGError.invalidManifest(file: file, keyPath: keyPath.isEmpty ? path : "\(path).\(keyPath)", message: message)
        }
        let value: T
        do {
            value = try T(from: decoder)
            try value.validate()
        } catch let problem as SettingsProblem {
            throw fail(problem.key, problem.message)
        } catch let error as DecodingError {
            switch error {
            case let .keyNotFound(key, context):
                let name = snakeCase(key.stringValue)
                throw fail(dotted(context.codingPath + [NameKey(name)]), "missing required setting '\(name)'")
            case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
                throw fail(dotted(context.codingPath), context.debugDescription)
            @unknown default:
                throw fail("", "\(error)")
            }
        }
        if let unknown = log.unknownKeys(in: .map(settings)) {
            throw fail(unknown.path, "unknown setting '\(unknown.key)'; expected one of: \(unknown.known.joined(separator: ", "))")
        }
        return value
    }

    /// A coding path as the manifest spells it (the containers push manifest names).
    static func dotted(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : "\($0).\($1)" }
    }

    /// `contrastGrid` → `contrast_grid`; keys already in snake case (or not camel case) are kept.
    static func snakeCase(_ key: String) -> String {
        guard key.contains(where: \.isUppercase), !key.contains("_") else { return key }
        var out = ""
        for ch in key {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

/// Which keys of which maps the decoded type asked for, so that others can be reported.
private final class AccessLog {
    /// Map path (dotted) → keys requested there.
    var requested: [String: Set<String>] = [:]
    /// Maps decoded as a whole (`[String: T]` dictionaries): every key is wanted.
    var wholeMaps: Set<String> = []

    func unknownKeys(in value: ManifestValue, path: String = "") -> (path: String, key: String, known: [String])? {
        switch value {
        case .map(let map):
            guard requested[path] != nil || wholeMaps.contains(path) else { return nil }  // not decoded as a map
            let known = requested[path] ?? []
            if !wholeMaps.contains(path), let key = map.keys.sorted().first(where: { !known.contains($0) }) {
                return (path.isEmpty ? key : "\(path).\(key)", key, known.sorted())
            }
            for key in map.keys.sorted() {
                if let found = unknownKeys(in: map[key]!, path: path.isEmpty ? key : "\(path).\(key)") { return found }
            }
        case .list(let items):
            for (index, item) in items.enumerated() {
                if let found = unknownKeys(in: item, path: "\(path)[\(index)]") { return found }
            }
        default: break
        }
        return nil
    }
}

private struct ValueDecoder: Decoder {
    let value: ManifestValue
    let codingPath: [any CodingKey]
    let log: AccessLog
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .map(let map) = value else { throw mismatch(codingPath, "a map", value) }
        return KeyedDecodingContainer(KeyedContainer<Key>(map: map, codingPath: codingPath, log: log))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .list(let items) = value else { throw mismatch(codingPath, "a list", value) }
        return UnkeyedContainer(items: items, codingPath: codingPath, log: log)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValue(value: value, codingPath: codingPath, log: log)
    }
}

private func mismatch(_ path: [any CodingKey], _ expected: String, _ value: ManifestValue) -> DecodingError {
    .typeMismatch(Any.self, .init(codingPath: path, debugDescription: "expected \(expected), got \(value.shortDescription)"))
}

/// A key as the manifest spells it, for coding paths.
private struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private struct IndexKey: CodingKey {
    var stringValue: String { String(intValue!) }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let map: [String: ManifestValue]
    let codingPath: [any CodingKey]
    let log: AccessLog

    init(map: [String: ManifestValue], codingPath: [any CodingKey], log: AccessLog) {
        self.map = map
        self.codingPath = codingPath
        self.log = log
        log.requested[SettingsDecoder.dotted(codingPath), default: []].formUnion([])
    }

    /// The manifest's spelling of a key: as given (dictionary keys such as `hV4`), else in snake case.
    private func name(_ key: Key) -> String {
        let raw = key.stringValue
        let name = map[raw] != nil ? raw : SettingsDecoder.snakeCase(raw)
        log.requested[SettingsDecoder.dotted(codingPath), default: []].insert(name)
        return name
    }

    var allKeys: [Key] {
        log.wholeMaps.insert(SettingsDecoder.dotted(codingPath))
        return map.keys.sorted().compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool { map[name(key)] != nil }

    private func value(_ key: Key) throws -> ManifestValue {
        guard let value = map[name(key)] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return value
    }

    private func decoder(_ key: Key) throws -> ValueDecoder {
        ValueDecoder(value: try value(key), codingPath: codingPath + [NameKey(name(key))], log: log)
    }

    func decodeNil(forKey key: Key) throws -> Bool { false }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: decoder(key)) }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try decoder(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { ValueDecoder(value: .map(map), codingPath: codingPath, log: log) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try decoder(key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [ManifestValue]
    let codingPath: [any CodingKey]
    let log: AccessLog
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [ManifestValue], codingPath: [any CodingKey], log: AccessLog) {
        self.items = items
        self.codingPath = codingPath
        self.log = log
    }

    private mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the list is too short"))
        }
        defer { currentIndex += 1 }
        return ValueDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], log: log)
    }

    mutating func decodeNil() throws -> Bool { false }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleValue: SingleValueDecodingContainer {
    let value: ManifestValue
    let codingPath: [any CodingKey]
    let log: AccessLog

    func decodeNil() -> Bool { false }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(codingPath, "true or false", value) }
        return b
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value else { throw mismatch(codingPath, "a string", value) }
        return s
    }
    func decode(_ type: Double.Type) throws -> Double {
        guard let d = value.doubleValue else { throw mismatch(codingPath, "a number", value) }
        return d
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int {
        guard case .int(let i) = value else { throw mismatch(codingPath, "an integer", value) }
        return i
    }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Double.Type: return try decode(Double.self) as! T
        case is Float.Type: return try decode(Float.self) as! T
        case is Int.Type: return try decode(Int.self) as! T
        case is Bool.Type: return try decode(Bool.self) as! T
        case is String.Type: return try decode(String.self) as! T
        default: return try T(from: ValueDecoder(value: value, codingPath: codingPath, log: log))
        }
    }
    // Fixed-width integers the settings never use are read through Int.
    func decode(_ type: Int8.Type) throws -> Int8 { try narrow(decode(Int.self)) }
    func decode(_ type: Int16.Type) throws -> Int16 { try narrow(decode(Int.self)) }
    func decode(_ type: Int32.Type) throws -> Int32 { try narrow(decode(Int.self)) }
    func decode(_ type: Int64.Type) throws -> Int64 { Int64(try decode(Int.self)) }
    func decode(_ type: UInt.Type) throws -> UInt { try narrow(decode(Int.self)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try narrow(decode(Int.self)) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try narrow(decode(Int.self)) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try narrow(decode(Int.self)) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try narrow(decode(Int.self)) }

    private func narrow<T: FixedWidthInteger>(_ i: Int) throws -> T {
        guard let v = T(exactly: i) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(i) is out of range"))
        }
        return v
    }
}
