import BERGCore

/// One model id's record: the single source of truth for a model. Decoded from
/// `registry/<model_id>.yaml`; see `ManifestValidator` for the strict checks.
public struct Manifest: Codable, Sendable, Equatable {
    public var modelID: String
    public var version: String
    public var modality: String
    public var trainingDataset: String
    public var species: String
    public var stimuli: String
    public var modelType: String
    public var creator: String
    public var license: String
    public var description: String
    public var references: [Reference]
    public var parameters: Parameters
    public var input: TensorSpec
    public var output: [TensorSpec]
    public var metadata: [MetadataField]?
    /// Where the outputs lie in space, so that `--volume`, `--surface` and pictures can be
    /// checked before any work: `volume`, `surface` or `visual_field`.
    public var placement: PlacementKind?
    public var encoder: EncoderSpec
    public var artifacts: [Artifact]
    /// The folder of the manifest's file (nil for built-in manifests): `local` artifacts with a
    /// relative path are found there. Not part of the YAML.
    public var sourceFolder: String? = nil

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelID = "model_id", version, modality, trainingDataset = "training_dataset", species, stimuli
        case modelType = "model_type", creator, license, description, references, parameters
        case input, output, metadata, placement, encoder, artifacts
    }

    public enum PlacementKind: String, Codable, Sendable, CaseIterable {
        case volume, surface
        case visualField = "visual_field"
    }
}

public struct Reference: Codable, Sendable, Equatable {
    public var citation: String
    public var url: String?
    public var doi: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case citation, url, doi }
}

/// The parameters a caller passes: which subject, which selection (ROI, ...), and encoding
/// options (typed switches such as img2fmri's `center_crop`).
public struct Parameters: Codable, Sendable, Equatable {
    public var subject: ParameterSpec
    public var selection: SelectionSpec
    /// Option name → its type, default and description.
    public var options: [String: OptionSpec]?
    enum CodingKeys: String, CodingKey, CaseIterable { case subject, selection, options }
}

/// An encoding option: a typed value with a default, which changes how the model runs (not
/// which outputs it gives; that is the selection).
public struct OptionSpec: Codable, Sendable, Equatable {
    public enum ValueType: String, Codable, Sendable, CaseIterable {
        case bool, int, number, string
    }
    public var type: ValueType
    public var `default`: ManifestValue
    /// For string and int options: the values allowed (all of the type's values when absent).
    public var validValues: [ManifestScalar]?
    public var description: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, `default`, validValues = "valid_values", description
    }
}

public struct ParameterSpec: Codable, Sendable, Equatable {
    /// `int` or `string` (one of `valid_values`), or, for a selection key, `text`: any
    /// non-empty string, which the encoder checks itself (a file path, a list of names, a
    /// range), with no `valid_values`.
    public var type: String
    /// Empty for `text`.
    public var validValues: [ManifestScalar]
    public var description: String?
    public var `default`: ManifestScalar?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, validValues = "valid_values", description, `default`
    }

    public init(type: String, validValues: [ManifestScalar], description: String? = nil, default: ManifestScalar? = nil) {
        self.type = type
        self.validValues = validValues
        self.description = description
        self.default = `default`
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        validValues = try container.decodeIfPresent([ManifestScalar].self, forKey: .validValues) ?? []
        description = try container.decodeIfPresent(String.self, forKey: .description)
        `default` = try container.decodeIfPresent(ManifestScalar.self, forKey: .default)
    }

    public var validStrings: [String] { validValues.map(\.string) }
    /// A `text` key: any non-empty string, checked by the encoder.
    public var isText: Bool { type == "text" }
    /// The valid values for messages and tables: the list, or `any text` for a `text` key.
    public var validValuesText: String { isText ? "any text" : validStrings.joined(separator: ", ") }
}

public struct SelectionSpec: Codable, Sendable, Equatable {
    public var required: Bool
    public var properties: [String: ParameterSpec]
    /// The order keys are shown in; YAML maps have none of their own once decoded.
    public var order: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable { case required, properties, order }
    public var orderedKeys: [String] { order ?? properties.keys.sorted() }
}

/// A declared input or output array: named dimensions, dtype and value range.
public struct TensorSpec: Codable, Sendable, Equatable {
    public var name: String
    /// Dimension names (`images`, `voxels`) or fixed sizes (`3`).
    public var shape: [String]
    public var dtype: String
    public var valueRange: [Double]?
    public var description: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, shape, dtype, valueRange = "value_range", description
    }
}

/// A metadata entry the model returns, for the card.
public struct MetadataField: Codable, Sendable, Equatable {
    public var name: String
    public var description: String
    public var shape: [String]?
    enum CodingKeys: String, CodingKey, CaseIterable { case name, description, shape }
}

/// Which encoder kind builds the model: how an image becomes the network's input (shared by
/// every kind), and the kind's own settings (each kind decodes them into its typed settings).
public struct EncoderSpec: Codable, Sendable, Equatable {
    public var kind: String
    public var preprocessing: Preprocessing?
    public var settings: [String: ManifestValue]
    enum CodingKeys: String, CodingKey, CaseIterable { case kind, preprocessing, settings }
}

/// How a uint8 image [3, H, W] becomes a model's input, in this order (as timm's pretrained
/// config and torchvision's weight transforms describe it):
/// 1. `square_crop`: the largest centred square (Pillow's offsets ⌊(W−S)/2⌋, ⌊(H−S)/2⌋);
/// 2. `resize` with its algorithm, to `size` [H, W], or the shorter side to `shorter_side`
///    (the other side ⌊side · long / short⌋, torchvision's rule);
/// 3. `crop`: a centred crop × crop (torchvision's offset int(round((H − crop) / 2)));
/// 4. / 255, then (x − mean) / std per channel when `mean` and `std` are given.
public struct Preprocessing: Codable, Sendable, Equatable {
    public enum ResizeAlgorithm: String, Codable, Sendable, CaseIterable {
        /// torchvision's `Resize` on a uint8 tensor (bilinear, antialiased, float32 arithmetic).
        case torchvisionBilinear = "torchvision_bilinear"
        /// Pillow's 8-bit bilinear `resize` (as torchvision's `Resize` on a PIL image).
        case pilBilinear = "pil_bilinear"
    }
    public var squareCrop: Bool?
    public var resize: ResizeAlgorithm?
    public var size: [Int]?
    public var shorterSide: Int?
    public var crop: Int?
    public var mean: [Double]?
    public var std: [Double]?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case squareCrop = "square_crop", resize, size, shorterSide = "shorter_side", crop, mean, std
    }

    public init(squareCrop: Bool? = nil, resize: ResizeAlgorithm? = nil, size: [Int]? = nil, shorterSide: Int? = nil,
                crop: Int? = nil, mean: [Double]? = nil, std: [Double]? = nil) {
        self.squareCrop = squareCrop
        self.resize = resize
        self.size = size
        self.shorterSide = shorterSide
        self.crop = crop
        self.mean = mean
        self.std = std
    }

    /// The side length of the model's (square) input, when the steps fix one.
    public var inputSide: Int? {
        if let crop { return crop }
        if let size, size.count == 2, size[0] == size[1] { return size[0] }
        return nil
    }
}

/// A file the encoder needs, and where it comes from.
public struct Artifact: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// A path inside BERG's public S3 bucket.
        case bergBucket = "berg-bucket"
        /// Any https URL.
        case https
        /// A member of a wheel on the Python package index.
        case pip
        /// A file the user provides (`--artifact NAME=PATH`), or one that ships inside the model.
        case local
    }

    /// The name encoders and `--artifact NAME=PATH` use.
    public var name: String
    public var source: Source
    /// berg-bucket: path template inside the bucket, e.g. `.../weights_sub-{subject:02}_roi-{roi}.pt`.
    public var path: String?
    /// https: the URL.
    public var url: String?
    /// pip: the requirement, e.g. `img2fmri==1.0`.
    public var requirement: String?
    /// pip: member path templates inside the wheel.
    public var members: [String]?
    public var size: Int?
    public var sha256: String?
    public var description: String?
    /// The artifact is needed only when each listed selection key (or option) has one of the
    /// listed values.
    public var only: [String: [String]]?
    /// The artifact is not needed when a listed selection key (or option) has one of the listed
    /// values.
    public var except: [String: [String]]?
    /// For a `url` or `path` with placeholders (one file per subject or selection): each file's
    /// SHA-256 and size, by its name after the template's fixed folder (`Artifact.fileKey`).
    /// `berg publish` writes it; `sha256` and `size` then stay empty.
    public var files: [String: FileChecksum]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, path, url, requirement, members, size, sha256, description, only, except, files
    }

    /// Whether a (subject, selection) needs this artifact.
    public func applies(to selection: Selection) -> Bool {
        if let only {
            for (key, values) in only where !values.contains(selection[key] ?? "") { return false }
        }
        if let except {
            for (key, values) in except where values.contains(selection[key] ?? "") { return false }
        }
        return true
    }
}

/// One file's SHA-256 and size in bytes.
public struct FileChecksum: Codable, Sendable, Equatable {
    public var sha256: String
    public var size: Int
    enum CodingKeys: String, CodingKey, CaseIterable { case sha256, size }

    public init(sha256: String, size: Int) {
        self.sha256 = sha256
        self.size = size
    }
}

/// A scalar in YAML: the valid values of a parameter.
public enum ManifestScalar: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let i = try? container.decode(Int.self) { self = .int(i) }
        else { self = .string(try container.decode(String.self)) }
    }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let i): try container.encode(i)
        case .string(let s): try container.encode(s)
        }
    }
    public var string: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }
    public var description: String { string }
}

/// A free-form YAML value: encoder settings, which each encoder kind checks itself.
public indirect enum ManifestValue: Codable, Sendable, Equatable {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ManifestValue])
    case map([String: ManifestValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let b = try? container.decode(Bool.self) { self = .bool(b) }
        else if let i = try? container.decode(Int.self) { self = .int(i) }
        else if let d = try? container.decode(Double.self) { self = .double(d) }
        else if let s = try? container.decode(String.self) { self = .string(s) }
        else if let l = try? container.decode([ManifestValue].self) { self = .list(l) }
        else { self = .map(try container.decode([String: ManifestValue].self)) }
    }
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .bool(let v): try container.encode(v)
        case .int(let v): try container.encode(v)
        case .double(let v): try container.encode(v)
        case .string(let v): try container.encode(v)
        case .list(let v): try container.encode(v)
        case .map(let v): try container.encode(v)
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var intValue: Int? { if case .int(let i) = self { return i }; return nil }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var listValue: [ManifestValue]? { if case .list(let l) = self { return l }; return nil }
    public var mapValue: [String: ManifestValue]? { if case .map(let m) = self { return m }; return nil }
}

extension Manifest {
    /// Expands `{subject}`, `{subject:02}` and `{KEY}` (any selection key) in a template.
    public static func expand(_ template: String, subject: Subject, selection: Selection) -> String {
        var result = ""
        var index = template.startIndex
        while index < template.endIndex {
            let ch = template[index]
            guard ch == "{", let close = template[index...].firstIndex(of: "}") else {
                result.append(ch)
                index = template.index(after: index)
                continue
            }
            let field = String(template[template.index(after: index)..<close])
            let parts = field.split(separator: ":", maxSplits: 1).map(String.init)
            let key = parts.first ?? ""
            let value: String = key == "subject" ? String(subject.number) : (selection[key] ?? "{\(field)}")
            if parts.count == 2, let width = Int(parts[1].filter(\.isNumber)),
               value.count < width {
                result += String(repeating: "0", count: width - value.count) + value
            } else {
                result += value
            }
            index = template.index(after: close)
        }
        return result
    }
}

extension Manifest {
    /// The subjects as numbers.
    public var subjects: [Subject] {
        parameters.subject.validValues.compactMap { value in
            switch value {
            case .int(let n): return Subject(n)
            case .string(let s): return Int(s).map { Subject($0) }
            }
        }
    }

    /// Every selection the manifest allows: all combinations of its selection keys' valid
    /// values, and first the empty selection when none is required.
    public var allSelections: [Selection] {
        let spec = parameters.selection
        var combos: [Selection] = [Selection()]
        var enumerated = false
        for key in spec.orderedKeys {
            // Text keys (free-form values, such as mask files) have no values to list.
            guard let values = spec.properties[key]?.validStrings, !values.isEmpty else { continue }
            combos = combos.flatMap { base in values.map { var s = base; s[key] = $0; return s } }
            enumerated = true
        }
        if !spec.required, enumerated { combos.insert(Selection(), at: 0) }
        return combos
    }
}
