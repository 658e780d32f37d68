import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    // MARK: Metadata

    /// Writes a metadata tree as a group: tensors and string lists become datasets (large
    /// tensors compressed), strings, numbers, bools and `none` become scalar datasets (a null
    /// dataspace for `none`), and nested metadata becomes nested groups. Entries keep their order.
    public func writeMetadata(_ metadata: Metadata, at group: String) throws {
        try HDF5File.locked {
            try createGroup(group)
            let prefix = group.isEmpty || group == "/" ? "" : (group.hasSuffix("/") ? group : group + "/")
            for (key, value) in metadata.entries {
                guard !key.isEmpty, !key.contains("/"), key != "." else {
                    throw BERGError.invalidInput("metadata key '\(key)' cannot be an HDF5 name (empty, '.', or contains '/')")
                }
                let name = prefix + key
                switch value {
                case .tensor(let t): try write(t, at: name, compressed: true)
                case .strings(let list): try writeStrings(list, at: name)
                case .string(let s): try writeStrings([s], at: name, scalar: true)
                case .int(let v): try write(try Tensor(shape: [], int64s: [Int64(v)]), at: name)
                case .double(let v): try write(try Tensor(shape: [], doubles: [v]), at: name)
                case .bool(let v): try write(try Tensor(shape: [], storage: .bool([v])), at: name)
                case .group(let nested): try writeMetadata(nested, at: name)
                case .none: try writeEmpty(at: name)
                }
            }
        }
    }

    func writeEmpty(at name: String) throws {
        let file = try prepareLink(name)
        let space = H5Screate(H5S_NULL)
        defer { H5Sclose(space) }
        let dcpl = HDF5File.datasetCreationList()
        defer { H5Pclose(dcpl) }
        let dataset = H5Dcreate2(file, name, H5T_NATIVE_FLOAT_g, space, 0, dcpl, 0)
        guard dataset >= 0 else { throw writeError(name, "creating empty dataset") }
        H5Dclose(dataset)
    }

    /// Reads a group as metadata: the inverse of `writeMetadata`, and also groups h5py wrote.
    /// Scalar float64/int64/bool datasets become `.double`/`.int`/`.bool`, scalar strings
    /// `.string`, string arrays `.strings` (flattened), other datasets `.tensor`; the group's
    /// attributes follow its members.
    public func readMetadata(at group: String) throws -> Metadata {
        try HDF5File.locked { try readMetadata(at: group, depth: 0) }
    }

    func readMetadata(at group: String, depth: Int) throws -> Metadata {
        guard depth < 64 else { throw BERGError.limitExceeded(what: "HDF5 group nesting depth", limit: 64, actual: depth) }
        var metadata = Metadata()
        let prefix = group.isEmpty || group == "/" ? "/" : (group.hasSuffix("/") ? group : group + "/")
        for child in try children(of: group) {
            let name = prefix + child
            switch try kind(of: name) {
            case .group:
                metadata[child] = .group(try readMetadata(at: name, depth: depth + 1))
            case .dataset:
                metadata[child] = try readValue(name)
            case .other:
                continue
            }
        }
        for attribute in try attributeNames(of: group) where metadata[attribute] == nil {
            switch try self.attribute(attribute, of: group) {
            case .string(let s): metadata[attribute] = .string(s)
            case .strings(let list): metadata[attribute] = .strings(list)
            case .int(let v): metadata[attribute] = .int(v)
            case .double(let v): metadata[attribute] = .double(v)
            case .bool(let v): metadata[attribute] = .bool(v)
            case .tensor(let t): metadata[attribute] = .tensor(t)
            case .empty: metadata[attribute] = MetadataValue.none
            }
        }
        return metadata
    }

    func readValue(_ name: String) throws -> MetadataValue {
        let info = try datasetShape(name)
        guard let shape = info.shape else { return .none }
        if info.isString {
            let strings = try readStrings(name)
            return shape.isEmpty ? .string(strings.first ?? "") : .strings(strings)
        }
        let tensor = try read(name)
        guard shape.isEmpty else { return .tensor(tensor) }
        switch tensor.storage {
        case .float64(let v): return .double(v[0])
        case .int64(let v): return .int(Int(v[0]))
        case .bool(let v): return .bool(v[0])
        default: return .tensor(tensor)
        }
    }

    func datasetShape(_ name: String) throws -> (shape: [Int]?, isString: Bool) {
        let (dataset, type, space) = try openDataset(name)
        defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
        return (try dims(of: space, name), H5Tget_class(type) == H5T_STRING)
    }
}
