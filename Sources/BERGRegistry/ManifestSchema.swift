import BERGCore

/// The shape a YAML value must have. Manifests are checked against these shapes before they
/// are decoded, so that an unknown key, a missing field or a wrong type is reported with its
/// key path instead of as a decoding failure.
public indirect enum ManifestSchema: Sendable {
    case string
    case integer
    case number
    case boolean
    /// An integer or a string (parameter values).
    case scalar
    /// One of a fixed set of strings.
    case choice([String])
    /// Anything; the consumer checks it (encoder settings).
    case any
    case list(ManifestSchema)
    /// A map with free string keys, each value of one shape.
    case map(ManifestSchema)
    /// A record with fixed keys.
    case object([Field])

    public struct Field: Sendable {
        public var key: String
        public var required: Bool
        public var schema: ManifestSchema
    }

    /// What the shape expects, for error messages.
    public var expectation: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .number: return "a number"
        case .boolean: return "true or false"
        case .scalar: return "an integer or a string"
        case .choice(let values): return "one of \(values.joined(separator: ", "))"
        case .any: return "any value"
        case .list: return "a list"
        case .map: return "a map"
        case .object: return "a map"
        }
    }
}

/// A type whose YAML shape is spelled out key by key. Each conformance switches over its
/// `CodingKeys.allCases`, so the compiler insists that every key has a shape.
protocol SchemaDescribed {
    static var schema: ManifestSchema { get }
}

private func requiredField<Key: CodingKey>(_ key: Key, _ schema: ManifestSchema) -> ManifestSchema.Field {
    .init(key: key.stringValue, required: true, schema: schema)
}

private func optionalField<Key: CodingKey>(_ key: Key, _ schema: ManifestSchema) -> ManifestSchema.Field {
    .init(key: key.stringValue, required: false, schema: schema)
}

extension Manifest: SchemaDescribed {
    public static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .modelID, .version, .modality, .trainingDataset, .species, .stimuli, .modelType,
                 .creator, .license, .description:
                return requiredField(key, .string)
            case .references: return requiredField(key, .list(Reference.schema))
            case .parameters: return requiredField(key, Parameters.schema)
            case .input: return requiredField(key, TensorSpec.schema)
            case .output: return requiredField(key, .list(TensorSpec.schema))
            case .metadata: return optionalField(key, .list(MetadataField.schema))
            case .placement: return optionalField(key, .choice(PlacementKind.allCases.map(\.rawValue)))
            case .encoder: return requiredField(key, EncoderSpec.schema)
            case .artifacts: return requiredField(key, .list(Artifact.schema))
            }
        })
    }
}

extension Reference: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .citation: return requiredField(key, .string)
            case .url, .doi: return optionalField(key, .string)
            }
        })
    }
}

extension Parameters: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .subject: return requiredField(key, ParameterSpec.schema)
            case .selection: return requiredField(key, SelectionSpec.schema)
            case .options: return optionalField(key, .map(OptionSpec.schema))
            }
        })
    }
}

extension OptionSpec: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .type: return requiredField(key, .choice(ValueType.allCases.map(\.rawValue)))
            case .default: return requiredField(key, .any)
            case .validValues: return optionalField(key, .list(.scalar))
            case .description: return optionalField(key, .string)
            }
        })
    }
}

extension Preprocessing: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .squareCrop: return optionalField(key, .boolean)
            case .resize: return optionalField(key, .choice(ResizeAlgorithm.allCases.map(\.rawValue)))
            case .size, .mean, .std: return optionalField(key, .list(.number))
            case .shorterSide, .crop: return optionalField(key, .integer)
            }
        })
    }
}

extension ParameterSpec: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .type: return requiredField(key, .choice(["int", "string", "text"]))
            case .validValues: return optionalField(key, .list(.scalar))
            case .description: return optionalField(key, .string)
            case .default: return optionalField(key, .scalar)
            }
        })
    }
}

extension SelectionSpec: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .required: return requiredField(key, .boolean)
            case .properties: return requiredField(key, .map(ParameterSpec.schema))
            case .order: return optionalField(key, .list(.string))
            }
        })
    }
}

extension TensorSpec: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .name: return requiredField(key, .string)
            case .shape: return requiredField(key, .list(.scalar))
            case .dtype: return requiredField(key, .choice(DTypeNames.all))
            case .valueRange: return optionalField(key, .list(.number))
            case .description: return optionalField(key, .string)
            }
        })
    }
}

extension MetadataField: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .name, .description: return requiredField(key, .string)
            case .shape: return optionalField(key, .list(.string))
            }
        })
    }
}

extension EncoderSpec: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .kind: return requiredField(key, .string)
            case .preprocessing: return optionalField(key, Preprocessing.schema)
            case .settings: return requiredField(key, .map(.any))
            }
        })
    }
}

extension Artifact: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .name: return requiredField(key, .string)
            case .source: return requiredField(key, .choice(Source.allCases.map(\.rawValue)))
            case .path, .url, .requirement, .sha256, .description: return optionalField(key, .string)
            case .members: return optionalField(key, .list(.string))
            case .size: return optionalField(key, .integer)
            case .only, .except: return optionalField(key, .map(.list(.string)))
            case .files: return optionalField(key, .map(FileChecksum.schema))
            }
        })
    }
}

extension FileChecksum: SchemaDescribed {
    static var schema: ManifestSchema {
        .object(CodingKeys.allCases.map { key in
            switch key {
            case .sha256: return requiredField(key, .string)
            case .size: return requiredField(key, .integer)
            }
        })
    }
}

enum DTypeNames {
    static let all = DType.allCases.map(\.rawValue)
}
