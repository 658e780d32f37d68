import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// Which units of each output a selection picks (per output and axis, the indices in output
/// order; an axis not listed keeps all its units), and the labels of the picked units.
struct FeatureLinearUnits: Sendable {
    var picks: [String: [String: [Int]]] = [:]
    /// Label name (`ch_names`, `times`) → values along the picked units.
    var labels = Metadata()

    /// Resolves a selection against the settings. Without `metadata` (before any file is
    /// fetched) only what needs no metadata is resolved and checked: masks and ranges.
    static func resolve(_ selection: Selection, settings: FeatureLinearSettings, model: String,
                        metadata: PickleValue?) throws -> FeatureLinearUnits {
        var units = FeatureLinearUnits()
        let rules = settings.selections ?? [:]
        let given = selection.values.keys.filter { rules[$0] != nil }
        let replaced = Set(given.flatMap { rules[$0]?.replaces ?? [] })
        var pickedBy: [String: String] = [:]  // "output/axis" → selection key
        for key in given.sorted() where !replaced.contains(key) {
            let rule = rules[key]!, value = selection[key]!
            for (output, axisName) in try settings.targets(of: key) {
                guard let axis = settings.outputs?[output]?.axes.first(where: { $0.name == axisName }) else { continue }
                let indices: [Int]?
                switch rule.by {
                case "roi": indices = try metadata.map { try roiIndices(value, rule: rule, output: output, axis: axis, metadata: $0, model: model) }
                case "names": indices = try metadata.map { try namedIndices(value, key: key, axis: axis, metadata: $0, model: model) }
                default: indices = try rangeOrMask(value, key: key, axis: axis, model: model)
                }
                guard let indices else { continue }
                if let other = pickedBy["\(output)/\(axisName)"] {
                    throw BERGError.invalidSelection(model: model, message: "'\(other)' and '\(key)' both pick \(axisName) of \(output); give one of them")
                }
                pickedBy["\(output)/\(axisName)"] = key
                units.picks[output, default: [:]][axisName] = indices
            }
        }
        if let metadata {
            for output in settings.outputNames {
                for axis in settings.outputs?[output]?.axes ?? [] {
                    for (name, keyPath) in (axis.labels ?? [:]).sorted(by: { $0.key < $1.key }) where units.labels[name] == nil {
                        let picked = units.picks[output]?[axis.name] ?? Array(0..<axis.size)
                        units.labels[name] = try labelValues(metadata, keyPath: keyPath, axis: axis, picked: picked, model: model)
                    }
                }
            }
        }
        return units
    }

    /// The picked indices of an output's axis, in output order.
    func indices(_ output: String, _ axis: FeatureLinearSettings.Axis) -> [Int] {
        picks[output]?[axis.name] ?? Array(0..<axis.size)
    }

    // MARK: The three kinds of rule

    /// `roi`: ascending indices from the metadata, at the rule's key path for the output.
    static func roiIndices(_ value: String, rule: FeatureLinearSettings.SelectionRule, output: String,
                           axis: FeatureLinearSettings.Axis, metadata: PickleValue, model: String) throws -> [Int] {
        let name = rule.aliases?[value] ?? value
        let keyPath = (rule.indices?[output] ?? "").replacingOccurrences(of: "{value}", with: name)
        guard let found = metadata.at(keyPath) else {
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "there is no '\(keyPath)'; the metadata file does not list \(value) for \(output)")
        }
        let indices: [Int]
        switch found {
        case .tensor(let t) where t.rank <= 1 && t.dtype != .float32 && t.dtype != .float64: indices = t.int64s.map { Int($0) }
        case .list(let items) where items.allSatisfy({ $0.int != nil }): indices = items.map { $0.int! }
        default:
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "'\(keyPath)' is \(found.kindName), not a list of indices")
        }
        if let bad = indices.first(where: { !(0..<axis.size).contains($0) }) {
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "'\(keyPath)' holds index \(bad), outside the \(axis.size) \(axis.name)")
        }
        return indices
    }

    /// `names`: comma-separated labels of the axis, in the order given.
    static func namedIndices(_ value: String, key: String, axis: FeatureLinearSettings.Axis,
                             metadata: PickleValue, model: String) throws -> [Int] {
        var known: [String] = []
        for keyPath in (axis.labels ?? [:]).values.sorted() {
            if case .strings(let names)? = metadata.at(keyPath)?.metadataValue(), names.count == axis.size { known = names; break }
        }
        guard !known.isEmpty else {
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "the metadata holds no list of \(axis.size) names for \(axis.name) (\((axis.labels ?? [:]).values.sorted().joined(separator: ", ")))")
        }
        let wanted = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !wanted.contains("") else {
            throw BERGError.invalidSelection(model: model, message: "\(key)=\(value) has an empty name; give names separated by commas, such as Oz,Cz")
        }
        var indices: [Int] = []
        for name in wanted {
            guard let index = known.firstIndex(of: name) else {
                throw BERGError.invalidSelection(model: model, message: "\(key): unknown name '\(name)'. Valid names: \(known.joined(separator: ", "))")
            }
            guard !indices.contains(index) else {
                throw BERGError.invalidSelection(model: model, message: "\(key): '\(name)' is listed twice")
            }
            indices.append(index)
        }
        return indices
    }

    /// `index`: `START:STOP` as a Python slice over the axis, or a `.npy` mask of one value
    /// per unit (nonzero = selected). Selecting nothing is an error.
    static func rangeOrMask(_ value: String, key: String, axis: FeatureLinearSettings.Axis, model: String) throws -> [Int] {
        let n = axis.size
        let indices: [Int]
        if value.lowercased().hasSuffix(".npy") {
            guard FileManager.default.fileExists(atPath: value) else {
                throw BERGError.invalidSelection(model: model, message: "\(key): no such file \(value); give a .npy mask of \(n) values (nonzero = selected) or START:STOP")
            }
            let mask: Tensor
            do { mask = try NPYFile.read(value) } catch {
                throw BERGError.invalidSelection(model: model, message: "\(key): \(value) is not a readable .npy array (\(error)); give a mask of \(n) values")
            }
            guard mask.count == n, mask.shape.filter({ $0 != 1 }).count <= 1 else {
                throw BERGError.invalidSelection(model: model, message: "\(key): \(value) holds \(mask.count) values (shape \(mask.shape)), but the mask must hold \(n), one for each of the \(n) \(axis.name) (nonzero = selected)")
            }
            indices = mask.doubles.enumerated().compactMap { $0.element != 0 ? $0.offset : nil }
        } else {
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func bound(_ text: String, _ fallback: Int) -> Int? {
                if text.isEmpty { return fallback }
                guard let i = Int(text) else { return nil }
                return min(max(i < 0 ? i + n : i, 0), n)
            }
            guard parts.count == 2, let start = bound(parts[0], 0), let stop = bound(parts[1], n) else {
                throw BERGError.invalidSelection(model: model, message: "\(key)=\(value): expected START:STOP (a Python-style range over the \(n) \(axis.name), such as 20:60) or a .npy mask file")
            }
            indices = start < stop ? Array(start..<stop) : []
        }
        guard !indices.isEmpty else {
            throw BERGError.invalidSelection(model: model, message: "\(key)=\(value) selects none of the \(n) \(axis.name); give a non-empty range START:STOP with START < STOP, or a mask with at least one nonzero value")
        }
        return indices
    }

    /// The labels at a metadata key path, taken at the picked indices.
    static func labelValues(_ metadata: PickleValue, keyPath: String, axis: FeatureLinearSettings.Axis,
                            picked: [Int], model: String) throws -> MetadataValue {
        guard let found = metadata.at(keyPath) else {
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "there is no '\(keyPath)' (labels of \(axis.name))")
        }
        switch found.metadataValue() {
        case .strings(let names) where names.count == axis.size:
            return .strings(picked.map { names[$0] })
        case .tensor(let t) where t.count == axis.size:
            let values = t.doubles
            return .tensor(try Tensor(shape: [picked.count], doubles: picked.map { values[$0] }))
        default:
            throw BERGError.unexpectedContent(path: "\(model) metadata", message: "'\(keyPath)' is \(found.kindName), not \(axis.size) labels of \(axis.name)")
        }
    }
}

extension PickleValue {
    /// The value at a `/`-separated path of dict keys (or object attributes).
    func at(_ keyPath: String) -> PickleValue? {
        var current = self
        for key in keyPath.split(separator: "/").map(String.init) {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }
}
