import BERGCore
@preconcurrency import CHDF5
import Foundation

extension HDF5File {
    // MARK: Datasets

    /// Writes a tensor as a dataset, replacing one of that name. With `compressed`, datasets of
    /// at least `compressionThreshold` bytes are chunked and gzip-compressed (level 4, shuffled).
    public func write(_ tensor: Tensor, at name: String, compressed: Bool = false) throws {
        try createDataset(name, shape: tensor.shape, dtype: tensor.dtype, compressed: compressed)
        try writeRows(tensor, at: name, start: 0)
    }

    /// Creates an empty dataset of `shape`, to be written a slab of rows at a time with
    /// `writeRows`: the same dataset `write(_:at:compressed:)` makes for a tensor of that shape.
    public func createDataset(_ name: String, shape: [Int], dtype: DType, compressed: Bool) throws {
        try HDF5File.locked {
            let file = try prepareLink(name)
            let (type, owned) = HDF5File.memoryType(dtype)
            defer { if owned { H5Tclose(type) } }
            let space = HDF5File.space(for: shape)
            defer { H5Sclose(space) }
            let dcpl = HDF5File.datasetCreationList()
            defer { H5Pclose(dcpl) }
            let count = Tensor.count(of: shape)
            if compressed, !shape.isEmpty, count > 0, count * dtype.byteWidth >= HDF5File.compressionThreshold {
                let chunk = HDF5File.chunkShape(shape, elementSize: max(1, dtype.byteWidth)).map { hsize_t($0) }
                guard H5Pset_chunk(dcpl, Int32(chunk.count), chunk) >= 0, H5Pset_shuffle(dcpl) >= 0,
                      H5Pset_deflate(dcpl, 4) >= 0 else { throw writeError(name, "setting up compression for") }
            }
            let dataset = H5Dcreate2(file, name, type, space, 0, dcpl, 0)
            guard dataset >= 0 else { throw writeError(name, "creating dataset") }
            H5Dclose(dataset)
        }
    }

    /// Writes `rows` (shaped [n, …] like the dataset's rows) at rows `start ..< start + n`.
    public func writeRows(_ rows: Tensor, at name: String, start: Int) throws {
        try HDF5File.locked {
            let file = try openFile()
            let dataset = H5Dopen2(file, name, 0)
            guard dataset >= 0 else { throw missing(name) }
            defer { H5Dclose(dataset) }
            let fileSpace = H5Dget_space(dataset)
            defer { H5Sclose(fileSpace) }
            guard let shape = try dims(of: fileSpace, name) else { throw writeError(name, "writing a scalar as rows of") }
            let (type, owned) = HDF5File.memoryType(rows.dtype)
            defer { if owned { H5Tclose(type) } }
            if shape.isEmpty || rows.shape == shape {
                let status: herr_t = HDF5File.withBuffer(of: rows) { H5Dwrite(dataset, type, 0, 0, 0, $0) }
                guard status >= 0 else { throw writeError(name, "writing dataset") }
                return
            }
            let n = rows.shape.first ?? 0
            guard rows.rank == shape.count, Array(rows.shape.dropFirst()) == Array(shape.dropFirst()), start >= 0, start + n <= shape[0] else {
                throw BERGError.shapeMismatch(what: "rows \(start)..<\(start + n) of '\(name)'", expected: [n] + shape.dropFirst(), actual: rows.shape)
            }
            guard n > 0 else { return }
            var offset = [hsize_t](repeating: 0, count: shape.count)
            offset[0] = hsize_t(start)
            let extent = rows.shape.map { hsize_t($0) }
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nil, extent, nil) >= 0 else {
                throw writeError(name, "selecting rows of")
            }
            let memorySpace = HDF5File.space(for: rows.shape)
            defer { H5Sclose(memorySpace) }
            let status: herr_t = HDF5File.withBuffer(of: rows) { H5Dwrite(dataset, type, memorySpace, fileSpace, 0, $0) }
            guard status >= 0 else { throw writeError(name, "writing rows of") }
        }
    }

    /// A dataset creation property list that records no modification times, so that the same
    /// data always gives the same file bytes.
    static func datasetCreationList() -> hid_t {
        let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
        H5Pset_obj_track_times(dcpl, false)
        return dcpl
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

    static func withBuffer<R>(of tensor: Tensor, _ body: (UnsafeRawPointer?) -> R) -> R {
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

    func openDataset(_ name: String) throws -> (hid_t, hid_t, hid_t) {
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
                throw BERGError.unexpectedContent(path: path, message: "dataset '\(name)' holds \(HDF5File.describe(type)), not numbers")
            }
            let shape = try dims(of: space, name) ?? [0]
            return try readTensor(shape: shape, dtype: dtype, name: name) { memType, buffer in
                H5Dread(dataset, memType, 0, 0, 0, buffer)
            }
        }
    }

    func readTensor(shape: [Int], dtype: DType, name: String,
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
        case .float32, .float16, .bfloat16: return try Tensor(shape: shape, storage: .float32(try load(Float.self)))
        case .float64: return try Tensor(shape: shape, storage: .float64(try load(Double.self)))
        case .int64: return try Tensor(shape: shape, storage: .int64(try load(Int64.self)))
        case .int32: return try Tensor(shape: shape, storage: .int32(try load(Int32.self)))
        case .int16: return try Tensor(shape: shape, storage: .int16(try load(Int16.self)))
        case .int8: return try Tensor(shape: shape, storage: .int8(try load(Int8.self)))
        case .uint8: return try Tensor(shape: shape, storage: .uint8(try load(UInt8.self)))
        case .bool: return try Tensor(shape: shape, storage: .bool(try load(Int8.self).map { $0 != 0 }))
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
            let dcpl = HDF5File.datasetCreationList()
            defer { H5Pclose(dcpl) }
            let dataset = H5Dcreate2(file, name, type, space, 0, dcpl, 0)
            guard dataset >= 0 else { throw writeError(name, "creating string dataset") }
            defer { H5Dclose(dataset) }
            let status = HDF5File.withCStrings(scalar ? Array(strings.prefix(1)) : strings) { H5Dwrite(dataset, type, 0, 0, 0, $0) }
            guard status >= 0 else { throw writeError(name, "writing string dataset") }
        }
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer?) -> R) -> R {
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

    func readStrings(type: hid_t, space: hid_t, name: String,
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
}
