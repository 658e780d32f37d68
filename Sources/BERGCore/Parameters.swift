/// A subject number as the manifest lists it (NSD 1–8, BOLD5000 CSI1–3 as 1–3).
public struct Subject: Hashable, Sendable, Comparable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public let number: Int
    public init(_ number: Int) { self.number = number }
    public init(integerLiteral value: Int) { self.number = value }
    public var description: String { String(number) }
    public static func < (a: Subject, b: Subject) -> Bool { a.number < b.number }
}

/// What part of a model's output to produce, such as `["roi": "V1"]`.
public struct Selection: Hashable, Sendable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public var values: [String: String]
    public init(_ values: [String: String] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (String, String)...) {
        self.values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }
    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }
    public var isEmpty: Bool { values.isEmpty }
    /// `key=value` pairs in key order, for file names and logs.
    public var description: String {
        values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: ",")
    }
}

/// Where the computation runs.
public enum Device: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// The best backend this build has (the CPU today).
    case auto
    case cpu
    case cuda

    public var description: String { rawValue }

    /// The concrete backend: `auto` becomes `cpu`; `cuda` fails while no CUDA backend exists.
    public func resolved() throws -> Device {
        switch self {
        case .auto, .cpu: return .cpu
        case .cuda:
            throw BERGError.unsupported("Device 'cuda' is not available: this build of BERG has no CUDA backend; the devices it has are cpu and auto")
        }
    }
}
