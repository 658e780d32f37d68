import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    // MARK: Types

    /// The libhdf5 memory type for a tensor dtype; the caller closes enum types (bool).
    static func memoryType(_ dtype: DType) -> (id: hid_t, owned: Bool) {
        switch dtype {
        case .float32, .float16, .bfloat16: return (H5T_NATIVE_FLOAT_g, false)
        case .float64: return (H5T_NATIVE_DOUBLE_g, false)
        case .int64: return (H5T_NATIVE_LLONG_g, false)
        case .int32: return (H5T_NATIVE_INT_g, false)
        case .int16: return (H5T_NATIVE_SHORT_g, false)
        case .int8: return (H5T_NATIVE_SCHAR_g, false)
        case .uint8: return (H5T_NATIVE_UCHAR_g, false)
        case .bool: return (boolType(), true)
        }
    }

    /// h5py's type for NumPy bools: an int8 enum with FALSE = 0 and TRUE = 1.
    static func boolType() -> hid_t {
        let type = H5Tenum_create(H5T_NATIVE_SCHAR_g)
        var no: Int8 = 0, yes: Int8 = 1
        H5Tenum_insert(type, "FALSE", &no)
        H5Tenum_insert(type, "TRUE", &yes)
        return type
    }

    static func stringType() -> hid_t {
        let type = H5Tcopy(H5T_C_S1_g)
        H5Tset_size(type, -1) // H5T_VARIABLE, (size_t)-1
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }

    /// The dtype a stored type reads as, or nil (strings, compounds, ...).
    static func dtype(ofStored type: hid_t) -> DType? {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            return size == 8 ? .float64 : (size == 4 || size == 2 ? .float32 : nil)
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .uint8
            case (1, true): return .int8
            case (2, true): return .int16
            case (2, false), (4, true): return .int32
            case (4, false), (8, _): return .int64
            default: return nil
            }
        case H5T_ENUM:
            return H5Tget_nmembers(type) == 2 && size == 1 ? .bool : nil
        default:
            return nil
        }
    }

    static func describe(_ type: hid_t) -> String {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_2 ? "int" : "uint") + "\(size * 8)"
        case H5T_STRING: return H5Tis_variable_str(type) > 0 ? "string (variable length)" : "string (\(size) bytes)"
        case H5T_ENUM: return dtype(ofStored: type) == .bool ? "bool" : "enum"
        case H5T_COMPOUND: return "compound"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "variable-length sequence"
        default: return "other"
        }
    }

    /// The dims of a dataspace; an empty array for scalars, nil for a null dataspace.
    func dims(of space: hid_t, _ name: String) throws -> [Int]? {
        if H5Sget_simple_extent_type(space) == H5S_NULL { return nil }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 32 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "'\(name)' has an unreadable shape")
        }
        var dims = [hsize_t](repeating: 0, count: rank)
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "'\(name)' has an unreadable shape")
        }
        let shape = dims.map { Int(clamping: $0) }
        _ = try NPYFile.checkedCount(shape, path: path)
        return shape
    }

    static func space(for shape: [Int]) -> hid_t {
        if shape.isEmpty { return H5Screate(H5S_SCALAR) }
        let dims = shape.map { hsize_t($0) }
        return H5Screate_simple(Int32(shape.count), dims, nil)
    }
}
