import BERGCore
import CArchive
import CZlib
import Foundation

/// A zip file read through its central directory. Stored entries (how PyTorch writes its
/// storages) are slices of the mapped file, with no copy; deflated entries (`np.savez_compressed`)
/// are inflated by libarchive, which also checks their CRC.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable {
        public var name: String
        /// 0 = stored, 8 = deflated.
        public var method: Int
        public var compressedSize: Int
        public var uncompressedSize: Int
        public var localHeaderOffset: Int
        public var crc32: UInt32
    }

    public let path: String
    public let data: Data
    public let entries: [Entry]

    /// Reads the file (mapped where the system allows) and its central directory.
    public init(path: String) throws {
        try self.init(data: try NPYFile.readFile(path), path: path)
    }

    public init(data: Data, path: String) throws {
        self.path = path
        self.data = data
        self.entries = try ZipArchive.centralDirectory(of: data, path: path)
    }

    public static func isZip(_ data: Data) -> Bool {
        data.count >= 4 && data.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
    }

    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The bytes of one entry: a slice of the file for stored entries, inflated otherwise.
    /// Inflated entries always have their CRC checked (by libarchive); stored ones only with
    /// `verifyChecksum`, so large storages can be used in place without a pass over them.
    public func contents(of entry: Entry, verifyChecksum: Bool = false) throws -> Data {
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw corrupt(entry, "stored entry with compressed size \(entry.compressedSize) ≠ size \(entry.uncompressedSize)")
            }
            let start = try dataStart(of: entry)
            let bytes = data[data.startIndex + start ..< data.startIndex + start + entry.compressedSize]
            if verifyChecksum {
                let crc = bytes.withUnsafeBytes { raw -> UInt32 in
                    var value = crc32(0, nil, 0)
                    var offset = 0
                    while offset < raw.count { // zlib takes 32-bit lengths
                        let n = min(raw.count - offset, 1 << 30)
                        value = crc32(value, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
                        offset += n
                    }
                    return UInt32(truncatingIfNeeded: value)
                }
                guard crc == entry.crc32 else {
                    throw corrupt(entry, String(format: "CRC-32 is %08x, the directory says %08x; the file is damaged", crc, entry.crc32))
                }
            }
            return bytes
        case 8:
            _ = try dataStart(of: entry) // bounds of the compressed bytes
            try checkInflation(entry)
            guard let inflated = try inflateAll(only: entry.name)[entry.name] else {
                throw corrupt(entry, "libarchive did not find the entry")
            }
            return inflated
        default:
            throw corrupt(entry, "compression method \(entry.method) is not supported (stored and deflated are)")
        }
    }

    /// The first `count` bytes of an entry (fewer when it is shorter), inflating no more than
    /// that: enough to read a header without the data behind it. No CRC is checked.
    public func prefix(of entry: Entry, count: Int) throws -> Data {
        let start = try dataStart(of: entry)
        let bytes = data[data.startIndex + start ..< data.startIndex + start + entry.compressedSize]
        switch entry.method {
        case 0: return bytes.prefix(count)
        case 8: return try Gzip.inflate(bytes, limit: min(count, entry.uncompressedSize), path: "\(path) [\(entry.name)]", raw: true)
        default: throw corrupt(entry, "compression method \(entry.method) is not supported (stored and deflated are)")
        }
    }

    /// A deflated entry may be inflated: its declared size is within `ReadLimits`.
    private func checkInflation(_ entry: Entry) throws {
        try ReadLimits.checkInflation(declared: entry.uncompressedSize, compressed: entry.compressedSize,
                                      of: "zip entry '\(entry.name)'", path: path)
    }

    /// Every entry's bytes, in one pass through libarchive for deflated entries.
    public func allContents() throws -> [(name: String, data: Data)] {
        for entry in entries where entry.method == 8 { try checkInflation(entry) }
        let inflated = entries.contains { $0.method != 0 } ? try inflateAll(only: nil) : [:]
        return try entries.map { entry in
            if entry.method == 0 { return (entry.name, try contents(of: entry)) }
            guard let d = inflated[entry.name] else { throw corrupt(entry, "libarchive did not return the entry") }
            return (entry.name, d)
        }
    }

    private func corrupt(_ entry: Entry, _ message: String) -> BERGError {
        BERGError.corruptFile(path: path, offset: entry.localHeaderOffset, message: "zip entry '\(entry.name)': \(message)")
    }

    /// Where an entry's bytes begin, after its local header (whose extra field PyTorch uses to
    /// align storages and which may differ from the central directory's).
    private func dataStart(of entry: Entry) throws -> Int {
        let at = entry.localHeaderOffset
        guard at >= 0, at <= data.count - 30, ZipArchive.u32(data, at) == 0x0403_4B50 else {
            throw corrupt(entry, "no local header at offset \(at)")
        }
        let start = at + 30 + Int(ZipArchive.u16(data, at + 26)) + Int(ZipArchive.u16(data, at + 28))
        guard entry.compressedSize >= 0, start <= data.count, entry.compressedSize <= data.count - start else {
            throw corrupt(entry, "entry of \(entry.compressedSize) bytes runs past the end of the file (\(data.count) bytes)")
        }
        return start
    }

    // MARK: Central directory

    static func u16(_ d: Data, _ at: Int) -> UInt16 {
        UInt16(d[d.startIndex + at]) | UInt16(d[d.startIndex + at + 1]) << 8
    }

    static func u32(_ d: Data, _ at: Int) -> UInt32 {
        UInt32(u16(d, at)) | UInt32(u16(d, at + 2)) << 16
    }

    static func u64(_ d: Data, _ at: Int) -> UInt64 {
        UInt64(u32(d, at)) | UInt64(u32(d, at + 4)) << 32
    }

    private static func centralDirectory(of data: Data, path: String) throws -> [Entry] {
        func bad(_ message: String, _ offset: Int? = nil) -> BERGError {
            BERGError.corruptFile(path: path, offset: offset, message: "zip: \(message)")
        }
        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        guard data.count >= 22 else { throw bad("file of \(data.count) bytes is too short for a zip") }
        let eocd = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
            var i = raw.count - 22
            let lowest = max(0, raw.count - 22 - 65535)
            while i >= lowest {
                if raw[i] == 0x50, raw[i + 1] == 0x4B, raw[i + 2] == 0x05, raw[i + 3] == 0x06 { return i }
                i -= 1
            }
            return -1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record; the file is truncated or not a zip") }
        var count = Int(u16(data, eocd + 10))
        var size = Int(u32(data, eocd + 12))
        var offset = Int(u32(data, eocd + 16))
        // Zip64: a locator 20 bytes before the record points at the 64-bit record.
        if eocd >= 20, u32(data, eocd - 20) == 0x0706_4B50 {
            let at64 = u64(data, eocd - 20 + 8)
            guard at64 <= UInt64(data.count - 56), u32(data, Int(at64)) == 0x0606_4B50 else { throw bad("bad zip64 end record", eocd - 20) }
            let r = Int(at64)
            let c = u64(data, r + 32), s = u64(data, r + 40), o = u64(data, r + 48)
            guard c <= UInt64(data.count), s <= UInt64(data.count), o <= UInt64(data.count) else { throw bad("zip64 record declares sizes past the file", r) }
            count = Int(c); size = Int(s); offset = Int(o)
        }
        guard offset <= data.count, size <= data.count - offset else {
            throw bad("central directory (\(size) bytes at \(offset)) lies outside the file", eocd)
        }
        // Each central entry is at least 46 bytes: a declared count cannot exceed what fits.
        guard count <= size / 46 else { throw bad("central directory declares \(count) entries in \(size) bytes", eocd) }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var at = offset
        let end = offset + size
        for _ in 0..<count {
            guard at + 46 <= end, u32(data, at) == 0x0201_4B50 else { throw bad("bad central directory entry", at) }
            let method = Int(u16(data, at + 10))
            let crc = u32(data, at + 16)
            var csize = UInt64(u32(data, at + 20))
            var usize = UInt64(u32(data, at + 24))
            let nameLength = Int(u16(data, at + 28))
            let extraLength = Int(u16(data, at + 30))
            let commentLength = Int(u16(data, at + 32))
            var local = UInt64(u32(data, at + 42))
            let nameStart = at + 46
            guard nameStart + nameLength + extraLength + commentLength <= end else { throw bad("central directory entry runs past its end", at) }
            let name = String(decoding: data[data.startIndex + nameStart ..< data.startIndex + nameStart + nameLength], as: UTF8.self)
            // Zip64 extra field: 64-bit sizes and offset for those set to 0xFFFFFFFF.
            var e = nameStart + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(data, e), len = Int(u16(data, e + 2))
                guard e + 4 + len <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    if usize == 0xFFFF_FFFF, f + 8 <= e + 4 + len { usize = u64(data, f); f += 8 }
                    if csize == 0xFFFF_FFFF, f + 8 <= e + 4 + len { csize = u64(data, f); f += 8 }
                    if local == 0xFFFF_FFFF, f + 8 <= e + 4 + len { local = u64(data, f); f += 8 }
                }
                e += 4 + len
            }
            guard csize <= UInt64(data.count), local <= UInt64(data.count), usize <= UInt64(Int.max / 2) else {
                throw bad("entry '\(name)' declares sizes past the file", at)
            }
            entries.append(Entry(name: name, method: method, compressedSize: Int(csize), uncompressedSize: Int(usize),
                                 localHeaderOffset: Int(local), crc32: crc))
            at = extraEnd + commentLength
        }
        return entries
    }

    // MARK: Inflating through libarchive

    /// Reads entries through libarchive's zip reader; `only` limits it to one name.
    private func inflateAll(only: String?) throws -> [String: Data] {
        let declared = Dictionary(entries.map { ($0.name, $0.uncompressedSize) }, uniquingKeysWith: { a, _ in a })
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String: Data] in
            guard let archive = archive_read_new() else { throw BERGError.missingDependency("libarchive could not start a reader") }
            defer { archive_read_free(archive) }
            archive_read_support_format_zip_seekable(archive)
            func failure(_ what: String) -> BERGError {
                let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
                return BERGError.corruptFile(path: path, offset: nil, message: "zip: \(what): \(detail)")
            }
            guard archive_read_open_memory(archive, raw.baseAddress, raw.count) == ARCHIVE_OK else { throw failure("cannot open") }
            var out: [String: Data] = [:]
            var entry: OpaquePointer?
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let status = archive_read_next_header(archive, &entry)
                if status == ARCHIVE_EOF { break }
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw failure("bad entry header") }
                let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
                if let only, name != only { continue }
                // Never grow past the size the directory declared: a bomb stops here.
                let limit = declared[name] ?? 0
                var content = Data()
                content.reserveCapacity(min(limit, 1 << 26))
                while true {
                    let n = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
                    if n == 0 { break }
                    guard n > 0 else { throw failure("entry '\(name)' is corrupt") }
                    guard content.count + n <= limit else {
                        throw BERGError.corruptFile(path: path, offset: nil, message: "zip: entry '\(name)' inflates past its declared \(limit) bytes")
                    }
                    buffer.withUnsafeBytes { content.append($0.bindMemory(to: UInt8.self).baseAddress!, count: n) }
                }
                guard content.count == limit else {
                    throw BERGError.corruptFile(path: path, offset: nil, message: "zip: entry '\(name)' inflates to \(content.count) bytes, not the declared \(limit)")
                }
                out[name] = content
                if only != nil { break }
            }
            return out
        }
    }
}
