import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    // MARK: Attributes

    /// Sets an attribute on a group or dataset (the root by default), replacing one of that name.
    public func setAttribute(_ name: String, _ value: AttributeValue, on object: String = "/") throws {
        try HDF5File.locked {
            guard mode != .read else { throw BERGError.writeFailed(path: path, message: "the file is open read-only") }
            let oid = try objectID(object)
            defer { H5Oclose(oid) }
            if H5Aexists(oid, name) > 0 { H5Adelete(oid, name) }
            let fail = writeError(name, "writing attribute")
            switch value {
            case .string(let s):
                try writeAttribute(oid, name, strings: [s], shape: [], fail)
            case .strings(let list):
                try writeAttribute(oid, name, strings: list, shape: [list.count], fail)
            case .int(let v):
                try writeAttribute(oid, name, try Tensor(shape: [], int64s: [Int64(v)]), fail)
            case .double(let v):
                try writeAttribute(oid, name, try Tensor(shape: [], doubles: [v]), fail)
            case .bool(let v):
                try writeAttribute(oid, name, try Tensor(shape: [], storage: .bool([v])), fail)
            case .tensor(let t):
                try writeAttribute(oid, name, t, fail)
            case .empty:
                let space = H5Screate(H5S_NULL)
                defer { H5Sclose(space) }
                let attribute = H5Acreate2(oid, name, H5T_NATIVE_FLOAT_g, space, 0, 0)
                guard attribute >= 0 else { throw fail }
                H5Aclose(attribute)
            }
        }
    }

    func writeAttribute(_ oid: hid_t, _ name: String, _ tensor: Tensor, _ fail: BERGError) throws {
        let (type, owned) = HDF5File.memoryType(tensor.dtype)
        defer { if owned { H5Tclose(type) } }
        let space = HDF5File.space(for: tensor.shape)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(oid, name, type, space, 0, 0)
        guard attribute >= 0 else { throw fail }
        defer { H5Aclose(attribute) }
        guard HDF5File.withBuffer(of: tensor, { H5Awrite(attribute, type, $0) }) >= 0 else { throw fail }
    }

    func writeAttribute(_ oid: hid_t, _ name: String, strings: [String], shape: [Int], _ fail: BERGError) throws {
        let type = HDF5File.stringType()
        defer { H5Tclose(type) }
        let space = HDF5File.space(for: shape)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(oid, name, type, space, 0, 0)
        guard attribute >= 0 else { throw fail }
        defer { H5Aclose(attribute) }
        guard HDF5File.withCStrings(strings, { H5Awrite(attribute, type, $0) }) >= 0 else { throw fail }
    }

    /// Reads an attribute: scalar strings, numbers and bools become `.string`, `.int`, `.double`,
    /// `.bool`; arrays become `.strings` or `.tensor`; a null dataspace becomes `.empty`.
    public func attribute(_ name: String, of object: String = "/") throws -> AttributeValue {
        try HDF5File.locked {
            let oid = try objectID(object)
            defer { H5Oclose(oid) }
            guard H5Aexists(oid, name) > 0 else { throw missing("\(object)@\(name)") }
            let attribute = H5Aopen(oid, name, 0)
            guard attribute >= 0 else { throw missing("\(object)@\(name)") }
            defer { H5Aclose(attribute) }
            let type = H5Aget_type(attribute), space = H5Aget_space(attribute)
            defer { H5Tclose(type); H5Sclose(space) }
            let label = "\(object)@\(name)"
            guard let shape = try dims(of: space, label) else { return .empty }
            if H5Tget_class(type) == H5T_STRING {
                let strings = try readStrings(type: type, space: space, name: label) { H5Aread(attribute, $0, $1) }
                return shape.isEmpty ? .string(strings.first ?? "") : .strings(strings)
            }
            guard let dtype = HDF5File.dtype(ofStored: type) else {
                throw BERGError.unexpectedContent(path: path, message: "attribute '\(label)' holds \(HDF5File.describe(type)), which is not read")
            }
            let tensor = try readTensor(shape: shape, dtype: dtype, name: label) { H5Aread(attribute, $0, $1) }
            guard shape.isEmpty else { return .tensor(tensor) }
            switch tensor.storage {
            case .bool(let v): return .bool(v[0])
            case .float32, .float64: return .double(tensor.doubles[0])
            default: return .int(Int(tensor.int64s[0]))
            }
        }
    }
}
