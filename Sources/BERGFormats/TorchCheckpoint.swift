import BERGCore
import Foundation

/// A file written by `torch.save`, read without PyTorch and without executing its pickle.
///
/// Two layouts exist:
/// - the zip format (PyTorch ≥ 1.6): `<top>/data.pkl`, the storages as stored entries
///   `<top>/data/<key>`, and `<top>/byteorder`. `<top>` is the file's stem or `archive`, so
///   `data.pkl` is found by suffix. Storages are slices of the mapped file until a tensor
///   view copies them out. The pickle's CRC is checked; the storages' are not (that would be
///   a second pass over the whole file).
/// - the legacy format: pickles of a magic number, the protocol version and system info, the
///   object itself, the list of storage keys, then each storage as an 8-byte element count
///   followed by its raw bytes.
public final class TorchCheckpoint: Sendable {
    public enum Format: String, Sendable { case zip, legacy }

    public let path: String
    public let format: Format
    /// The saved object: a dict for BERG's checkpoints, a state_dict for torchvision's.
    public let root: PickleValue

    /// Reads the file through a read-only mapping: each storage is copied into its tensors and
    /// its pages are given back, so that loading costs the tensors' memory, not twice it.
    public convenience init(path: String, limits: PickleLimits = .default) throws {
        let file = try MappedFile(path: path)
        try self.init(data: file.data, path: path, limits: limits, mapping: file)
        file.releaseAll()
    }

    public convenience init(data: Data, path: String, limits: PickleLimits = .default) throws {
        try self.init(data: data, path: path, limits: limits, mapping: nil)
    }

    private init(data: Data, path: String, limits: PickleLimits, mapping: MappedFile?) throws {
        self.path = path
        if ZipArchive.isZip(data) {
            format = .zip
            root = try TorchCheckpoint.loadZip(data, path: path, limits: limits, mapping: mapping)
        } else if data.count >= 2, data[data.startIndex] == 0x80 {
            format = .legacy
            root = try TorchCheckpoint.loadLegacy(data, path: path, limits: limits)
        } else {
            throw BERGError.corruptFile(path: path, offset: 0, message: "not a PyTorch checkpoint (neither a zip nor a legacy pickle stream)")
        }
    }

    /// The value at a path of string keys (or decimal integer keys), such as `["best_params", "fwrfs", "0"]`.
    public func value(at keys: [String]) throws -> PickleValue {
        var current = root
        var walked: [String] = []
        for key in keys {
            walked.append(key)
            if let next = current[key] ?? Int(key).flatMap({ current[$0] }) {
                current = next
            } else {
                let available = current.dictionary?.map { $0.key.shortDescription }.joined(separator: ", ") ?? current.kindName
                throw BERGError.unexpectedContent(path: path, message: "no entry '\(walked.joined(separator: "/"))' (there: \(available))")
            }
        }
        return current
    }

    /// The state_dict at a key path (the root when empty).
    public func stateDict(at keys: [String] = []) throws -> [String: Tensor] {
        try value(at: keys).stateDict(path: keys.isEmpty ? path : "\(path) [\(keys.joined(separator: "/"))]")
    }

    // MARK: Zip format

    private static func loadZip(_ data: Data, path: String, limits: PickleLimits, mapping: MappedFile?) throws -> PickleValue {
        let zip = try ZipArchive(data: data, path: path)
        let candidates = zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        guard let pickleEntry = candidates.min(by: { $0.name.count < $1.name.count }) else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "zip checkpoint has no data.pkl entry; entries: \(zip.entries.prefix(8).map(\.name).joined(separator: ", "))")
        }
        let top = String(pickleEntry.name.dropLast("data.pkl".count))
        var bigEndian = false
        if let order = zip.entry(named: top + "byteorder") {
            let text = String(decoding: try zip.contents(of: order, verifyChecksum: true), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" || text == "big" else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "byteorder entry says '\(text)', expected little or big")
            }
            bigEndian = text == "big"
        }
        let byName = Dictionary(zip.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var storages: [String: TorchStorage] = [:]
        var previous: TorchStorage? = nil
        let load: (PickleValue) throws -> PickleValue = { pid in
            let (dtype, key, numel) = try storageID(pid, path: path)
            // A tensor is rebuilt (copied out of its storage) right after its storage is
            // loaded, so the storage before this one is done with: its pages go back. (A
            // later view of it would read them in again from the page cache.)
            if let mapping, let done = previous { done.data.withUnsafeBytes { mapping.release($0) } }
            if let s = storages[key] { previous = s; return .storage(s) }
            guard let entry = byName[top + "data/" + key] else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "storage '\(key)' has no entry \(top)data/\(key)")
            }
            let bytes = try zip.contents(of: entry)
            let (needed, overflow) = numel.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, needed <= bytes.count else {
                throw BERGError.corruptFile(path: path, offset: entry.localHeaderOffset,
                                            message: "storage '\(key)' declares \(numel) \(dtype.rawValue) elements but its entry has \(bytes.count) bytes")
            }
            let storage = TorchStorage(key: key, dtype: dtype, data: bytes.prefix(needed), bigEndian: bigEndian)
            storages[key] = storage
            previous = storage
            return .storage(storage)
        }
        return try PickleMachine.load(try zip.contents(of: pickleEntry, verifyChecksum: true), path: "\(path) [\(pickleEntry.name)]",
                                      persistentLoad: load, limits: limits)
    }

    /// (dtype, key, element count) from `('storage', storage_type, key, location, numel[, view])`.
    private static func storageID(_ pid: PickleValue, path: String) throws -> (DType, String, Int) {
        guard case .tuple(let t) = pid, t.count >= 5, t[0].string == "storage" else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "unexpected persistent id \(pid.kindName); expected a ('storage', type, key, location, size) tuple")
        }
        guard case .global(_, let typeName) = t[1], let dtype = TorchTensors.dtype(forStorageName: typeName) else {
            throw BERGError.unsupported("\(path): storage type \(t[1].kindName) is not supported (float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool are)")
        }
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        case .bytes(let b): key = String(decoding: b, as: UTF8.self)
        default: throw BERGError.corruptFile(path: path, offset: nil, message: "storage key is \(t[2].kindName)")
        }
        guard let numel = t[4].int, numel >= 0 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "storage '\(key)' has no valid size")
        }
        return (dtype, key, numel)
    }

    // MARK: Legacy format

    private static func loadLegacy(_ data: Data, path: String, limits: PickleLimits) throws -> PickleValue {
        func bad(_ message: String, _ offset: Int? = nil) -> BERGError {
            BERGError.corruptFile(path: path, offset: offset, message: "legacy checkpoint: \(message)")
        }
        // 1. magic number, 2. protocol version, 3. system info
        let (magic, afterMagic) = try PickleMachine.load(data, from: 0, path: path, limits: limits)
        let expectedMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19] // 0x1950a86a20f9469cfc6c
        guard case .bigInt(let m) = magic, m == expectedMagic else {
            throw bad("bad magic number; the file is not a PyTorch checkpoint", 0)
        }
        let (version, afterVersion) = try PickleMachine.load(data, from: afterMagic, path: path, limits: limits)
        guard version.int == 1001 else { throw bad("protocol version \(version.shortDescription), expected 1001", afterMagic) }
        let (sysInfo, objectStart) = try PickleMachine.load(data, from: afterVersion, path: path, limits: limits)
        let bigEndian = sysInfo["little_endian"]?.bool == false

        // 4. the object: a first pass only learns each storage's type and size and where the
        // pickle ends, because the storages' bytes come after the next pickle.
        var declared: [String: (dtype: DType, numel: Int)] = [:]
        let (_, objectEnd) = try PickleMachine.load(data, from: objectStart, path: path, persistentLoad: { pid in
            if let (dtype, key, numel) = try? storageID(pid, path: path) { declared[key] = (dtype, numel) }
            return .persistentID(pid)
        }, limits: limits)

        // 5. storage keys, then each storage: an 8-byte little-endian element count and the bytes.
        let (keysValue, storagesStart) = try PickleMachine.load(data, from: objectEnd, path: path, limits: limits)
        guard let keyList = keysValue.array else { throw bad("storage key list is \(keysValue.kindName)", objectEnd) }
        var storages: [String: TorchStorage] = [:]
        var at = storagesStart
        for keyValue in keyList {
            guard let key = keyValue.string ?? keyValue.int.map(String.init) else { throw bad("storage key is \(keyValue.kindName)", at) }
            guard let (dtype, numel) = declared[key] else { throw bad("storage '\(key)' is listed but never used", at) }
            guard at <= data.count - 8 else { throw bad("truncated before storage '\(key)'", at) }
            let count = ZipArchive.u64(data, at)
            guard count <= UInt64(data.count) else { throw bad("storage '\(key)' declares \(count) elements", at) }
            let (bytes, overflow) = Int(count).multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, bytes <= data.count - at - 8 else {
                throw bad("storage '\(key)' of \(count) \(dtype.rawValue) elements runs past the end of the file", at)
            }
            guard Int(count) >= numel else { throw bad("storage '\(key)' holds \(count) elements, \(numel) declared", at) }
            let start = data.startIndex + at + 8
            storages[key] = TorchStorage(key: key, dtype: dtype, data: data[start ..< start + bytes], bigEndian: bigEndian)
            at += 8 + bytes
        }

        // The object again, now with its storages. Legacy ids may name a view into a root storage.
        return try PickleMachine.load(data, from: objectStart, path: path, persistentLoad: { pid in
            let (dtype, key, _) = try storageID(pid, path: path)
            guard var storage = storages[key] else { throw bad("storage '\(key)' was not found after the key list") }
            if case .tuple(let t) = pid, t.count >= 6, case .tuple(let view) = t[5], view.count == 3,
               let offset = view[1].int, let size = view[2].int {
                guard offset >= 0, size >= 0, offset <= storage.count, size <= storage.count - offset else {
                    throw bad("storage view (\(offset), \(size)) lies outside storage '\(key)'")
                }
                let w = dtype.byteWidth
                let start = storage.data.startIndex + offset * w
                storage = TorchStorage(key: view[0].string ?? key, dtype: dtype, data: storage.data[start ..< start + size * w], bigEndian: bigEndian)
            }
            return .storage(storage)
        }, limits: limits).value
    }
}
