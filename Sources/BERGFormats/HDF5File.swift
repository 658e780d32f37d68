import BERGCore
@preconcurrency import CHDF5
import Foundation

/// An HDF5 file read or written through libhdf5.
///
/// ```swift
/// let file = try HDF5File(path: "out.h5", mode: .create)
/// try file.write(tensor, at: "responses", compressed: true)   // parent groups are created
/// try file.writeStrings(["a.png", "b.png"], at: "stimulus_names")
/// try file.setAttribute("model_id", .string("fmri-nsd-fwrf"))    // on "/" unless `on:` is given
/// try file.writeMetadata(metadata, at: "metadata")
/// try file.close()
/// ```
///
/// Datasets hold float32, float64, int64, int32, int16, int8, uint8, bool (an enum FALSE/TRUE,
/// as h5py writes NumPy bools) or strings (variable-length UTF-8; fixed-length strings are read
/// too). Serial libhdf5 is not thread-safe, so every call into it holds one process-wide lock.
/// Failures become `BERGError`s; libhdf5's own error printing is switched off.
public final class HDF5File {
    public enum Mode: Sendable {
        /// Open an existing file read-only.
        case read
        /// Create a new file, replacing one that exists.
        case create
        /// Open an existing file for reading and writing.
        case readWrite
    }

    /// A value stored as an attribute.
    public enum AttributeValue: Sendable, Equatable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case strings([String])
        case tensor(Tensor)
        /// An attribute with an empty (null) dataspace, what h5py writes for `h5py.Empty`.
        case empty
    }

    /// What a path inside the file names.
    public enum ObjectKind: Sendable, Equatable { case group, dataset, other }

    /// The shape and element type of a dataset, read without its data.
    public struct DatasetInfo: Sendable, Equatable {
        public var shape: [Int]
        /// nil for strings and types this reader does not convert.
        public var dtype: DType?
        public var isString: Bool
        /// A short description of the stored type, such as `float32` or `string (variable)`.
        public var typeDescription: String
    }

    public let path: String
    public let mode: Mode
    private var fileID: hid_t = -1

    /// Datasets at least this many bytes are chunked and gzip-compressed when `compressed` is set.
    public static let compressionThreshold = 64 * 1024
    /// The largest dataset or attribute this reader allocates (8 GiB), and the most group members it lists.
    public static let maxReadBytes = 8 << 30
    public static let maxMembers = 10_000_000
    static let lock = NSRecursiveLock()

    /// libhdf5's type ids, valid after `H5open`, and its error printing switched off (once).
    private static let libraryReady: Bool = {
        let ok = H5open() >= 0
        _ = H5Eset_auto2(0, nil, nil) // H5E_DEFAULT: no printing to stderr
        return ok
    }()

    public init(path: String, mode: Mode) throws {
        self.path = path
        self.mode = mode
        try HDF5File.locked {
            guard HDF5File.libraryReady else { throw BERGError.missingDependency("libhdf5 failed to initialise") }
            switch mode {
            case .read, .readWrite:
                guard FileManager.default.fileExists(atPath: path) else {
                    throw BERGError.fileNotFound(path: path, hint: nil)
                }
                guard H5Fis_hdf5(path) > 0 else {
                    throw BERGError.corruptFile(path: path, offset: 0, message: "not an HDF5 file (or a damaged one)")
                }
                fileID = H5Fopen(path, mode == .read ? 0 : 1, 0) // H5F_ACC_RDONLY / H5F_ACC_RDWR
                guard fileID >= 0 else {
                    throw BERGError.corruptFile(path: path, offset: nil, message: "libhdf5 cannot open the file")
                }
            case .create:
                let fcpl = H5Pcreate(H5P_CLS_FILE_CREATE_ID_g)
                defer { if fcpl >= 0 { H5Pclose(fcpl) } }
                // Keep the root group's entries in the order they were written.
                if fcpl >= 0 {
                    H5Pset_link_creation_order(fcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
                    H5Pset_attr_creation_order(fcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
                }
                fileID = H5Fcreate(path, 2, fcpl >= 0 ? fcpl : 0, 0) // H5F_ACC_TRUNC
                guard fileID >= 0 else {
                    throw BERGError.writeFailed(path: path, message: "libhdf5 cannot create the file (check that the folder exists and is writable)")
                }
            }
        }
    }

    deinit { try? close() }

    /// Flushes and closes the file; later calls do nothing.
    public func close() throws {
        try HDF5File.locked {
            guard fileID >= 0 else { return }
            let status = H5Fclose(fileID)
            fileID = -1
            guard status >= 0 else { throw BERGError.writeFailed(path: path, message: "libhdf5 failed to close the file") }
        }
    }

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func openFile() throws -> hid_t {
        guard fileID >= 0 else { throw BERGError.invalidInput("HDF5 file \(path) is already closed") }
        return fileID
    }

    private func missing(_ name: String) -> BERGError {
        .unexpectedContent(path: path, message: "no '\(name)' in the HDF5 file")
    }

    private func writeError(_ name: String, _ what: String) -> BERGError {
        .writeFailed(path: path, message: "\(what) '\(name)' failed in libhdf5")
    }

    // MARK: Structure

    /// Creates a group and any missing parents; an existing group is left as it is.
    public func createGroup(_ name: String) throws {
        try HDF5File.locked { _ = try groupID(name, create: true).close() }
    }

    /// Whether `name` (a slash-separated path) exists.
    public func exists(_ name: String) throws -> Bool {
        try HDF5File.locked {
            let file = try openFile()
            if name == "/" || name.isEmpty { return true }
            // Check each prefix: H5Lexists fails on a path whose parent is missing.
            var prefix = ""
            for part in name.split(separator: "/") {
                prefix += "/" + part
                guard H5Lexists(file, prefix, 0) > 0 else { return false }
            }
            return true
        }
    }

    /// Whether `name` is a group or a dataset.
    public func kind(of name: String) throws -> ObjectKind {
        try HDF5File.locked {
            guard try exists(name) else { throw missing(name) }
            let object = H5Oopen(try openFile(), name.isEmpty ? "/" : name, 0)
            guard object >= 0 else { throw missing(name) }
            defer { H5Oclose(object) }
            switch H5Iget_type(object) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// The names of a group's members, in creation order where the file tracks it, else by name.
    public func children(of group: String = "/") throws -> [String] {
        try HDF5File.locked {
            let gid = try groupID(group, create: false)
            defer { gid.close() }
            var info = H5G_info_t()
            guard H5Gget_info(gid.id, &info) >= 0 else { throw missing(group) }
            let count = Int(clamping: info.nlinks)
            guard count <= HDF5File.maxMembers else {
                throw BERGError.limitExceeded(what: "member count of HDF5 group '\(group)'", limit: HDF5File.maxMembers, actual: count)
            }
            return try names(count: count, group: group) { order, index, buffer, size in
                H5Lget_name_by_idx(gid.id, ".", order, H5_ITER_INC, hsize_t(index), buffer, size, 0)
            }
        }
    }

    /// The names of the attributes of an object, in creation order where tracked, else by name.
    public func attributeNames(of object: String = "/") throws -> [String] {
        try HDF5File.locked {
            let oid = try objectID(object)
            defer { H5Oclose(oid) }
            var result: [String] = []
            for order in [H5_INDEX_CRT_ORDER, H5_INDEX_NAME] {
                result = []
                var index = 0
                while index < 1_000_000 {
                    guard let name = readName({ H5Aget_name_by_idx(oid, ".", order, H5_ITER_INC, hsize_t(index), $0, $1, 0) }) else { break }
                    result.append(name)
                    index += 1
                }
                // Without a creation-order index the first lookup fails; fall back to names.
                if !result.isEmpty { return result }
            }
            return []
        }
    }

    private func names(count: Int, group: String,
                       _ get: (H5_index_t, Int, UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> [String] {
        for order in [H5_INDEX_CRT_ORDER, H5_INDEX_NAME] {
            var result: [String] = []
            for index in 0..<count {
                guard let name = readName({ get(order, index, $0, $1) }) else { break }
                result.append(name)
            }
            if result.count == count { return result }
        }
        throw BERGError.corruptFile(path: path, offset: nil, message: "cannot list the members of group '\(group)'")
    }

    private func readName(_ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) -> String? {
        let length = get(nil, 0)
        guard length >= 0, length < 65_536 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard get(&buffer, length + 1) >= 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private struct Handle {
        let id: hid_t
        func close() { H5Gclose(id) }
    }

    private func groupID(_ name: String, create: Bool) throws -> Handle {
        let file = try openFile()
        let target = name.isEmpty ? "/" : name
        if try exists(target) {
            let gid = H5Gopen2(file, target, 0)
            guard gid >= 0 else { throw BERGError.unexpectedContent(path: path, message: "'\(name)' is not a group") }
            return Handle(id: gid)
        }
        guard create else { throw missing(name) }
        let lcpl = H5Pcreate(H5P_CLS_LINK_CREATE_ID_g)
        let gcpl = H5Pcreate(H5P_CLS_GROUP_CREATE_ID_g)
        defer { H5Pclose(lcpl); H5Pclose(gcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        H5Pset_link_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        H5Pset_attr_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        let gid = H5Gcreate2(file, target, lcpl, gcpl, 0)
        guard gid >= 0 else { throw writeError(name, "creating group") }
        return Handle(id: gid)
    }

    private func objectID(_ name: String) throws -> hid_t {
        let file = try openFile()
        guard try exists(name) else { throw missing(name) }
        let oid = H5Oopen(file, name.isEmpty ? "/" : name, 0)
        guard oid >= 0 else { throw missing(name) }
        return oid
    }

    /// Makes the parent groups of `name` and removes an existing link of that name.
    private func prepareLink(_ name: String) throws -> hid_t {
        let file = try openFile()
        guard mode != .read else { throw BERGError.writeFailed(path: path, message: "the file is open read-only") }
        let parts = name.split(separator: "/")
        guard let last = parts.last else { throw BERGError.invalidInput("empty HDF5 dataset name") }
        if parts.count > 1 { try createGroup(parts.dropLast().joined(separator: "/")) }
        if try exists(name) {
            guard H5Ldelete(file, name, 0) >= 0 else { throw writeError(String(last), "replacing") }
        }
        return file
    }

    // MARK: Types

    /// The libhdf5 memory type for a tensor dtype; the caller closes enum types (bool).
    private static func memoryType(_ dtype: DType) -> (id: hid_t, owned: Bool) {
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
    private static func boolType() -> hid_t {
        let type = H5Tenum_create(H5T_NATIVE_SCHAR_g)
        var no: Int8 = 0, yes: Int8 = 1
        H5Tenum_insert(type, "FALSE", &no)
        H5Tenum_insert(type, "TRUE", &yes)
        return type
    }

    private static func stringType() -> hid_t {
        let type = H5Tcopy(H5T_C_S1_g)
        H5Tset_size(type, -1) // H5T_VARIABLE, (size_t)-1
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }

    /// The dtype a stored type reads as, or nil (strings, compounds, ...).
    private static func dtype(ofStored type: hid_t) -> DType? {
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

    private static func describe(_ type: hid_t) -> String {
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
    private func dims(of space: hid_t, _ name: String) throws -> [Int]? {
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

    private static func space(for shape: [Int]) -> hid_t {
        if shape.isEmpty { return H5Screate(H5S_SCALAR) }
        let dims = shape.map { hsize_t($0) }
        return H5Screate_simple(Int32(shape.count), dims, nil)
    }

    // MARK: Datasets

    /// Writes a tensor as a dataset, replacing one of that name. With `compressed`, datasets of
    /// at least `compressionThreshold` bytes are chunked and gzip-compressed (level 4, shuffled).
    public func write(_ tensor: Tensor, at name: String, compressed: Bool = false) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let (type, owned) = HDF5File.memoryType(tensor.dtype)
            defer { if owned { H5Tclose(type) } }
            let space = HDF5File.space(for: tensor.shape)
            defer { H5Sclose(space) }
            let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
            defer { H5Pclose(dcpl) }
            let bytes = tensor.count * tensor.dtype.byteWidth
            if compressed, !tensor.shape.isEmpty, tensor.count > 0, bytes >= HDF5File.compressionThreshold {
                let chunk = HDF5File.chunkShape(tensor.shape, elementSize: max(1, tensor.dtype.byteWidth)).map { hsize_t($0) }
                guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0, H5Pset_shuffle(dcpl) >= 0,
                      H5Pset_deflate(dcpl, 4) >= 0 else { throw writeError(name, "setting up compression for") }
            }
            let dataset = H5Dcreate2(file, name, type, space, 0, dcpl, 0)
            guard dataset >= 0 else { throw writeError(name, "creating dataset") }
            defer { H5Dclose(dataset) }
            let status: herr_t = HDF5File.withBuffer(of: tensor) { H5Dwrite(dataset, type, 0, 0, 0, $0) }
            guard status >= 0 else { throw writeError(name, "writing dataset") }
        }
    }

    /// Chunks of about 1 MiB: trailing dimensions whole, leading ones cut down first.
    static func chunkShape(_ shape: [Int], elementSize: Int, target: Int = 1 << 20) -> [Int] {
        var chunk = shape.map { max(1, $0) }
        var bytes = chunk.reduce(elementSize, *)
        for d in chunk.indices where bytes > target {
            let rest = bytes / chunk[d]
            chunk[d] = max(1, min(chunk[d], target / max(1, rest)))
            bytes = rest * chunk[d]
        }
        return chunk
    }

    private static func withBuffer<R>(of tensor: Tensor, _ body: (UnsafeRawPointer?) -> R) -> R {
        switch tensor.storage {
        case .float32(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .float64(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .int64(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .int32(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .int16(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .int8(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .uint8(let a): return a.withUnsafeBytes { body($0.baseAddress) }
        case .bool(let a): return a.map { $0 ? Int8(1) : 0 }.withUnsafeBytes { body($0.baseAddress) }
        }
    }

    /// The shape and type of a dataset.
    public func info(_ name: String) throws -> DatasetInfo {
        try HDF5File.locked {
            let (dataset, type, space) = try openDataset(name)
            defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
            let isString = H5Tget_class(type) == H5T_STRING
            return DatasetInfo(shape: try dims(of: space, name) ?? [], dtype: HDF5File.dtype(ofStored: type),
                               isString: isString, typeDescription: HDF5File.describe(type))
        }
    }

    private func openDataset(_ name: String) throws -> (hid_t, hid_t, hid_t) {
        let file = try openFile()
        guard try exists(name) else { throw missing(name) }
        let dataset = H5Dopen2(file, name, 0)
        guard dataset >= 0 else { throw BERGError.unexpectedContent(path: path, message: "'\(name)' is not a dataset") }
        let type = H5Dget_type(dataset)
        let space = H5Dget_space(dataset)
        guard type >= 0, space >= 0 else {
            if type >= 0 { H5Tclose(type) }
            if space >= 0 { H5Sclose(space) }
            H5Dclose(dataset)
            throw BERGError.corruptFile(path: path, offset: nil, message: "dataset '\(name)' has an unreadable type or shape")
        }
        return (dataset, type, space)
    }

    /// Reads a numeric or bool dataset into a tensor (unsigned 16/32-bit widen to int32/int64;
    /// float16 becomes float32).
    public func read(_ name: String) throws -> Tensor {
        try HDF5File.locked {
            let (dataset, type, space) = try openDataset(name)
            defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
            guard let dtype = HDF5File.dtype(ofStored: type) else {
                throw BERGError.unexpectedContent(path: path, message: "dataset '\(name)' holds \(HDF5File.describe(type)), not numbers; use readStrings for strings")
            }
            let shape = try dims(of: space, name) ?? [0]
            return try readTensor(shape: shape, dtype: dtype, name: name) { memType, buffer in
                H5Dread(dataset, memType, 0, 0, 0, buffer)
            }
        }
    }

    private func readTensor(shape: [Int], dtype: DType, name: String,
                            _ read: (hid_t, UnsafeMutableRawPointer?) -> herr_t) throws -> Tensor {
        let count = Tensor.count(of: shape)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow, bytes <= HDF5File.maxReadBytes else {
            throw BERGError.limitExceeded(what: "size in bytes of '\(name)' in \(path)", limit: HDF5File.maxReadBytes, actual: overflow ? Int.max : bytes)
        }
        let (memType, owned) = HDF5File.memoryType(dtype)
        defer { if owned { H5Tclose(memType) } }
        func load<T: Numeric>(_: T.Type) throws -> [T] {
            var values = [T](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes { read(memType, $0.baseAddress) }
            guard status >= 0 else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "cannot read '\(name)' (damaged or truncated data)")
            }
            return values
        }
        switch dtype {
        case .float32, .float16, .bfloat16: return Tensor(shape: shape, storage: .float32(try load(Float.self)))
        case .float64: return Tensor(shape: shape, storage: .float64(try load(Double.self)))
        case .int64: return Tensor(shape: shape, storage: .int64(try load(Int64.self)))
        case .int32: return Tensor(shape: shape, storage: .int32(try load(Int32.self)))
        case .int16: return Tensor(shape: shape, storage: .int16(try load(Int16.self)))
        case .int8: return Tensor(shape: shape, storage: .int8(try load(Int8.self)))
        case .uint8: return Tensor(shape: shape, storage: .uint8(try load(UInt8.self)))
        case .bool: return Tensor(shape: shape, storage: .bool(try load(Int8.self).map { $0 != 0 }))
        }
    }

    /// Writes strings as a 1-d variable-length UTF-8 string dataset (or a scalar with `scalar`).
    public func writeStrings(_ strings: [String], at name: String, scalar: Bool = false) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let type = HDF5File.stringType()
            defer { H5Tclose(type) }
            let space = HDF5File.space(for: scalar ? [] : [strings.count])
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(file, name, type, space, 0, 0, 0)
            guard dataset >= 0 else { throw writeError(name, "creating string dataset") }
            defer { H5Dclose(dataset) }
            let status = HDF5File.withCStrings(scalar ? Array(strings.prefix(1)) : strings) { H5Dwrite(dataset, type, 0, 0, 0, $0) }
            guard status >= 0 else { throw writeError(name, "writing string dataset") }
        }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer?) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBytes { body($0.baseAddress) }
    }

    /// Reads a string dataset (variable or fixed length, scalar or n-d) as a flat list.
    public func readStrings(_ name: String) throws -> [String] {
        try HDF5File.locked {
            let (dataset, type, space) = try openDataset(name)
            defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
            return try readStrings(type: type, space: space, name: name) { H5Dread(dataset, $0, 0, 0, 0, $1) }
        }
    }

    private func readStrings(type: hid_t, space: hid_t, name: String,
                             _ read: (hid_t, UnsafeMutableRawPointer?) -> herr_t) throws -> [String] {
        guard H5Tget_class(type) == H5T_STRING else {
            throw BERGError.unexpectedContent(path: path, message: "'\(name)' holds \(HDF5File.describe(type)), not strings")
        }
        guard let shape = try dims(of: space, name) else { return [] }
        let count = Tensor.count(of: shape)
        guard count <= HDF5File.maxReadBytes / 8 else {
            throw BERGError.limitExceeded(what: "string count of '\(name)' in \(path)", limit: HDF5File.maxReadBytes / 8, actual: count)
        }
        let unreadable = BERGError.corruptFile(path: path, offset: nil, message: "cannot read strings of '\(name)'")
        if H5Tis_variable_str(type) > 0 {
            let memType = HDF5File.stringType()
            defer { H5Tclose(memType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard pointers.withUnsafeMutableBytes({ read(memType, $0.baseAddress) }) >= 0 else { throw unreadable }
            let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
            _ = pointers.withUnsafeMutableBytes { H5Dvlen_reclaim(memType, space, 0, $0.baseAddress) }
            return strings
        }
        let size = H5Tget_size(type)
        guard size > 0, size < 1 << 20 else { throw unreadable }
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, total < 1 << 31 else { throw BERGError.limitExceeded(what: "string data of '\(name)'", limit: 1 << 31, actual: overflow ? Int.max : total) }
        var bytes = [UInt8](repeating: 0, count: total)
        guard bytes.withUnsafeMutableBytes({ read(type, $0.baseAddress) }) >= 0 else { throw unreadable }
        let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var field = bytes[i * size ..< (i + 1) * size].prefix { $0 != 0 }
            if spacePadded { while field.last == 0x20 { field = field.dropLast() } }
            return String(decoding: field, as: UTF8.self)
        }
    }

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
                try writeAttribute(oid, name, Tensor(shape: [], int64s: [Int64(v)]), fail)
            case .double(let v):
                try writeAttribute(oid, name, Tensor(shape: [], doubles: [v]), fail)
            case .bool(let v):
                try writeAttribute(oid, name, Tensor(shape: [], storage: .bool([v])), fail)
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

    private func writeAttribute(_ oid: hid_t, _ name: String, _ tensor: Tensor, _ fail: BERGError) throws {
        let (type, owned) = HDF5File.memoryType(tensor.dtype)
        defer { if owned { H5Tclose(type) } }
        let space = HDF5File.space(for: tensor.shape)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(oid, name, type, space, 0, 0)
        guard attribute >= 0 else { throw fail }
        defer { H5Aclose(attribute) }
        guard HDF5File.withBuffer(of: tensor, { H5Awrite(attribute, type, $0) }) >= 0 else { throw fail }
    }

    private func writeAttribute(_ oid: hid_t, _ name: String, strings: [String], shape: [Int], _ fail: BERGError) throws {
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
                case .int(let v): try write(Tensor(shape: [], int64s: [Int64(v)]), at: name)
                case .double(let v): try write(Tensor(shape: [], doubles: [v]), at: name)
                case .bool(let v): try write(Tensor(shape: [], storage: .bool([v])), at: name)
                case .group(let nested): try writeMetadata(nested, at: name)
                case .none: try writeEmpty(at: name)
                }
            }
        }
    }

    private func writeEmpty(at name: String) throws {
        let file = try prepareLink(name)
        let space = H5Screate(H5S_NULL)
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(file, name, H5T_NATIVE_FLOAT_g, space, 0, 0, 0)
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

    private func readMetadata(at group: String, depth: Int) throws -> Metadata {
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

    private func readValue(_ name: String) throws -> MetadataValue {
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

    private func datasetShape(_ name: String) throws -> (shape: [Int]?, isString: Bool) {
        let (dataset, type, space) = try openDataset(name)
        defer { H5Tclose(type); H5Sclose(space); H5Dclose(dataset) }
        return (try dims(of: space, name), H5Tget_class(type) == H5T_STRING)
    }
}
