/// One encoding option's value, typed as the manifest declares it.
public enum OptionValue: Sendable, Hashable, CustomStringConvertible, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral {
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)

    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }

    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .number(let d): return String(d)
        case .string(let s): return s
        }
    }
}

/// Encoding options, such as img2fmri's `["center_crop": true]`: switches that change how a model
/// runs, each declared with a type and a default in the model's manifest
/// (`parameters.options`). `BERG.getEncodingModel` checks them and fills in the defaults.
public struct EncodingOptions: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public var values: [String: OptionValue]

    public init(_ values: [String: OptionValue] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (String, OptionValue)...) {
        self.values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public subscript(name: String) -> OptionValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    public var isEmpty: Bool { values.isEmpty }

    /// The option's value when it is a bool (after resolution every declared option has one).
    public func bool(_ name: String) -> Bool? { if case .bool(let b)? = values[name] { return b }; return nil }
    public func int(_ name: String) -> Int? { if case .int(let i)? = values[name] { return i }; return nil }
    public func number(_ name: String) -> Double? {
        switch values[name] {
        case .number(let d)?: return d
        case .int(let i)?: return Double(i)
        default: return nil
        }
    }
    public func string(_ name: String) -> String? { if case .string(let s)? = values[name] { return s }; return nil }

    /// `name=value` pairs in name order.
    public var description: String {
        values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: ",")
    }
}
