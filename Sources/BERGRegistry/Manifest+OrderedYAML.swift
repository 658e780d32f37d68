import BERGCore
import Yams

extension Manifest {
    /// The manifest as YAML with every map in a fixed order: a record's keys in the order the
    /// schema declares them, free keys (settings, file names) alphabetically. The same manifest
    /// always gives the same bytes, which `berg publish` needs to tell a republished version from
    /// a changed one.
    public func orderedYAMLText() throws -> String {
        do {
            let node = try Yams.compose(yaml: try YAMLEncoder().encode(self)) ?? Node("")
            return try Yams.serialize(node: Manifest.ordered(node), width: 100, allowUnicode: true)
        } catch {
            throw BERGError.invalidManifest(file: modelID, keyPath: "", message: "cannot encode as YAML: \(error)")
        }
    }

    /// Every record's keys in the schema's order, the most specific records first.
    private static let records: [[String]] = [
        FileChecksum.CodingKeys.allCases.map(\.stringValue), Reference.CodingKeys.allCases.map(\.stringValue),
        MetadataField.CodingKeys.allCases.map(\.stringValue), Parameters.CodingKeys.allCases.map(\.stringValue),
        SelectionSpec.CodingKeys.allCases.map(\.stringValue), ParameterSpec.CodingKeys.allCases.map(\.stringValue),
        OptionSpec.CodingKeys.allCases.map(\.stringValue), TensorSpec.CodingKeys.allCases.map(\.stringValue),
        EncoderSpec.CodingKeys.allCases.map(\.stringValue), Preprocessing.CodingKeys.allCases.map(\.stringValue),
        Artifact.CodingKeys.allCases.map(\.stringValue), CodingKeys.allCases.map(\.stringValue),
    ]

    private static func ordered(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            let keys = mapping.keys.map { $0.string ?? "" }
            let record = records.first { Set(keys).isSubset(of: $0) } ?? []
            func rank(_ key: Node) -> (Int, String) { (record.firstIndex(of: key.string ?? "") ?? Int.max, key.string ?? "") }
            let pairs = mapping.map { ($0.key, ordered($0.value)) }.sorted { rank($0.0) < rank($1.0) }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(ordered), sequence.tag, sequence.style, sequence.mark))
        case .scalar(let scalar):
            // 8.4 rather than 8.4e+0, where the plain form still reads as a number.
            guard scalar.style == .plain || scalar.style == .any, scalar.string.contains("e"), let value = node.float,
                  value.isFinite, case let text = String(value), text.contains("."), !text.contains("e") else { return node }
            return .scalar(Node.Scalar(text, scalar.tag, scalar.style, scalar.mark))
        default:
            return node
        }
    }
}
