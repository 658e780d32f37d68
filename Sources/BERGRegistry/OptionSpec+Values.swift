import BERGCore

/// Why a value does not fit an option's declaration (the caller adds the option's name).
public struct OptionValueProblem: Error, Sendable {
    public let message: String
}

extension OptionSpec {
    /// A manifest value (a default, a valid value) as this option's type.
    public func value(_ raw: ManifestValue) throws -> OptionValue {
        let value: OptionValue
        switch (type, raw) {
        case (.bool, .bool(let b)): value = .bool(b)
        case (.int, .int(let i)): value = .int(i)
        case (.number, .int(let i)): value = .number(Double(i))
        case (.number, .double(let d)): value = .number(d)
        case (.string, .string(let s)): value = .string(s)
        default: throw OptionValueProblem(message: "expected \(type.expectation), got \(raw.shortDescription)")
        }
        try checkValid(value)
        return value
    }

    /// A value typed on the command line (`--option center_crop=true`), read as this option's type.
    public func parse(_ text: String) throws -> OptionValue {
        let value: OptionValue
        switch type {
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": value = .bool(true)
            case "false", "no", "off", "0": value = .bool(false)
            default: throw OptionValueProblem(message: "expected true or false, got '\(text)'")
            }
        case .int:
            guard let i = Int(text) else { throw OptionValueProblem(message: "expected an integer, got '\(text)'") }
            value = .int(i)
        case .number:
            guard let d = Double(text), d.isFinite else { throw OptionValueProblem(message: "expected a number, got '\(text)'") }
            value = .number(d)
        case .string:
            value = .string(text)
        }
        try checkValid(value)
        return value
    }

    /// A value a library caller gave, checked against the type (an int is a fine number).
    public func checked(_ value: OptionValue) throws -> OptionValue {
        switch (type, value) {
        case (.bool, .bool), (.int, .int), (.number, .number), (.string, .string): try checkValid(value); return value
        case (.number, .int(let i)): return try checked(.number(Double(i)))
        default: throw OptionValueProblem(message: "expected \(type.expectation), got '\(value)'")
        }
    }

    /// The values a caller may give, for messages: the valid values, or the type.
    public var choices: [String] {
        if let validValues { return validValues.map(\.string) }
        switch type {
        case .bool: return ["false", "true"]
        case .int: return ["an integer"]
        case .number: return ["a number"]
        case .string: return ["a string"]
        }
    }

    private func checkValid(_ value: OptionValue) throws {
        guard let validValues else { return }
        let allowed = validValues.map(\.string)
        guard allowed.contains(value.description) else {
            throw OptionValueProblem(message: "'\(value)' is not one of \(allowed.joined(separator: ", "))")
        }
    }
}

extension OptionSpec.ValueType {
    var expectation: String {
        switch self {
        case .bool: return "true or false"
        case .int: return "an integer"
        case .number: return "a number"
        case .string: return "a string"
        }
    }
}

extension ManifestValue {
    init(_ scalar: ManifestScalar) {
        switch scalar {
        case .int(let i): self = .int(i)
        case .string(let s): self = .string(s)
        }
    }

    var shortDescription: String {
        switch self {
        case .bool(let b): return "true or false (\(b))"
        case .int(let i): return "an integer (\(i))"
        case .double(let d): return "a number (\(d))"
        case .string(let s): return "a string ('\(s)')"
        case .list: return "a list"
        case .map: return "a map"
        }
    }
}

extension Registry {
    /// Checks options against a manifest's declarations and fills in the defaults. An unknown
    /// option or a value of the wrong type is `invalidParameter`, listing what is valid.
    public func resolveOptions(_ manifest: Manifest, _ options: EncodingOptions) throws -> EncodingOptions {
        let declared = manifest.parameters.options ?? [:]
        for name in options.values.keys.sorted() where declared[name] == nil {
            throw BERGError.invalidParameter(model: manifest.modelID, name: "option", value: name,
                                             valid: declared.isEmpty ? ["(none: this model takes no options)"] : declared.keys.sorted())
        }
        var resolved = EncodingOptions()
        for (name, spec) in declared {
            do {
                resolved[name] = try options[name].map { try spec.checked($0) } ?? spec.value(spec.default)
            } catch is OptionValueProblem {
                throw BERGError.invalidParameter(model: manifest.modelID, name: "option \(name)",
                                                 value: options[name]?.description ?? "", valid: spec.choices)
            }
        }
        return resolved
    }

    /// Options typed as `NAME=VALUE` (the command line's `--option`), read with each option's
    /// declared type. A name given twice is an error.
    public func parseOptions(_ manifest: Manifest, _ items: [String]) throws -> EncodingOptions {
        let declared = manifest.parameters.options ?? [:]
        var options = EncodingOptions()
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw BERGError.invalidSelection(model: manifest.modelID, message: "an option is NAME=VALUE, got '\(item)'")
            }
            let (name, text) = (parts[0], parts[1])
            guard let spec = declared[name] else {
                throw BERGError.invalidParameter(model: manifest.modelID, name: "option", value: name,
                                                 valid: declared.isEmpty ? ["(none: this model takes no options)"] : declared.keys.sorted())
            }
            guard options[name] == nil else {
                throw BERGError.invalidSelection(model: manifest.modelID, message: "option '\(name)' is given twice; give it once")
            }
            do { options[name] = try spec.parse(text) } catch is OptionValueProblem {
                throw BERGError.invalidParameter(model: manifest.modelID, name: "option \(name)", value: text, valid: spec.choices)
            }
        }
        return options
    }
}
