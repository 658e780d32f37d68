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
    var fileID: hid_t = -1

    /// Datasets at least this many bytes are chunked and gzip-compressed when `compressed` is set.
    public static let compressionThreshold = 64 * 1024
    /// The largest dataset or attribute this reader allocates (`ReadLimits.maxBytes`), and the most group members it lists.
    public static var maxReadBytes: Int { ReadLimits.maxBytes }
    public static let maxMembers = 10_000_000
    static let lock = NSRecursiveLock()

    /// libhdf5's type ids, valid after `H5open`, and its error printing switched off (once).
    static let libraryReady: Bool = {
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
                    H5Pset_obj_track_times(fcpl, false)  // no modification times: the same data, the same bytes
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

    func openFile() throws -> hid_t {
        guard fileID >= 0 else { throw BERGError.invalidInput("HDF5 file \(path) is already closed") }
        return fileID
    }

    func missing(_ name: String) -> BERGError {
        .unexpectedContent(path: path, message: "no '\(name)' in the HDF5 file")
    }

    func writeError(_ name: String, _ what: String) -> BERGError {
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

    func names(count: Int, group: String,
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

    func readName(_ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) -> String? {
        let length = get(nil, 0)
        guard length >= 0, length < 65_536 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard get(&buffer, length + 1) >= 0 else { return nil }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    struct Handle {
        let id: hid_t
        func close() { H5Gclose(id) }
    }

    func groupID(_ name: String, create: Bool) throws -> Handle {
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
        H5Pset_obj_track_times(gcpl, false)
        let gid = H5Gcreate2(file, target, lcpl, gcpl, 0)
        guard gid >= 0 else { throw writeError(name, "creating group") }
        return Handle(id: gid)
    }

    func objectID(_ name: String) throws -> hid_t {
        let file = try openFile()
        guard try exists(name) else { throw missing(name) }
        let oid = H5Oopen(file, name.isEmpty ? "/" : name, 0)
        guard oid >= 0 else { throw missing(name) }
        return oid
    }

    /// Makes the parent groups of `name` and removes an existing link of that name.
    func prepareLink(_ name: String) throws -> hid_t {
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
}
