import BERGCore
import CZlib
import Foundation

/// NumPy's `.npz`: a zip of `.npy` files, stored (`np.savez`) or deflated (`np.savez_compressed`).
public enum NPZFile {
    /// Every numeric array, by name (the entry name without `.npy`).
    public static func read(_ path: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, value) in try readValues(path) {
            guard case .tensor(let t) = value else {
                throw BERGError.unexpectedContent(path: path, message: "array '\(name)' holds \(value.kindName), not numbers")
            }
            out[name] = t
        }
        return out
    }

    /// Every array as a value: numeric arrays as tensors, object arrays through the pickle VM.
    public static func readValues(_ path: String, limits: PickleLimits = .default) throws -> [(name: String, value: PickleValue)] {
        let zip = try ZipArchive(path: path)
        return try zip.allContents().map { entry in
            let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            return (name, try NPYFile.decodeObject(entry.data, path: "\(path) [\(entry.name)]", limits: limits))
        }
    }
}

extension NPZFile {
    /// Writes arrays as `np.savez` does (a zip of stored `<name>.npy` members), each in its own
    /// dtype, which `np.load(path)[name]` reads; the file appears whole or not at all.
    public static func write(_ arrays: [(name: String, tensor: Tensor)], to path: String) throws {
        let writer = try StreamWriter(path: path, members: arrays.map { ($0.name, $0.tensor.shape) },
                                      dtypes: arrays.map(\.tensor.dtype))
        do {
            for (member, array) in arrays.enumerated() {
                try RawArray.littleEndianBytes(of: array.tensor).withUnsafeBytes { try writer.append(member: member, bytes: $0) }
            }
            try writer.finish()
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// An `.npz` of arrays (float32 unless `dtypes` says otherwise) whose shapes are known up front, each member's bytes
    /// appended in order as they come (interleaved between members as a run's batches are):
    /// every member's place in the file is fixed at the start, the CRCs are filled in and the
    /// central directory written at the end. ZIP64 records are used where a member or the
    /// archive passes 4 GiB.
    public final class StreamWriter {
        private struct Member {
            let name: [UInt8]
            let headerOffset: Int
            let dataOffset: Int
            let size: Int
            var written = 0
            var crc: UInt = 0
        }

        private let file: StagedFile
        private var members: [Member] = []
        private var end = 0

        public init(path: String, members shapes: [(name: String, shape: [Int])], dtypes: [DType]? = nil) throws {
            file = try StagedFile(path: path)
            var offset = 0
            for (index, (name, shape)) in shapes.enumerated() {
                let dtype = dtypes?[index] ?? .float32
                let header = NPYFile.header(shape: shape, dtype: dtype)
                let size = header.count + shape.reduce(1, *) * dtype.byteWidth
                let fileName = Array("\(name).npy".utf8)
                let big = size >= 0xFFFF_FFFF
                let local = NPZFile.localHeader(name: fileName, size: size, crc: 0, big: big)
                var member = Member(name: fileName, headerOffset: offset, dataOffset: offset + local.count, size: size)
                try local.withUnsafeBytes { try file.write($0, at: offset) }
                try header.withUnsafeBytes { try file.write($0, at: member.dataOffset) }
                member.crc = header.withUnsafeBytes { crc32(0, $0.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
                member.written = header.count
                members.append(member)
                offset = member.dataOffset + size
            }
            end = offset
        }

        deinit { discard() }

        /// The next bytes of member `member` (little-endian values of its dtype, in C order).
        public func append(member index: Int, bytes: UnsafeRawBufferPointer) throws {
            var member = members[index]
            guard member.written + bytes.count <= member.size else {
                throw BERGError.writeFailed(path: file.path, message: "member \(String(decoding: member.name, as: UTF8.self)) got more bytes than its shape holds")
            }
            try file.write(bytes, at: member.dataOffset + member.written)
            var at = 0
            while at < bytes.count {  // zlib takes 32-bit lengths
                let n = min(bytes.count - at, 1 << 30)
                member.crc = crc32(member.crc, bytes.baseAddress!.advanced(by: at).assumingMemoryBound(to: Bytef.self), uInt(n))
                at += n
            }
            member.written += bytes.count
            members[index] = member
        }

        /// Fills in the CRCs and writes the central directory; every member must be complete.
        public func finish() throws {
            var central = Data()
            for member in members {
                guard member.written == member.size else {
                    throw BERGError.writeFailed(path: file.path, message: "member \(String(decoding: member.name, as: UTF8.self)) holds \(member.written) of its \(member.size) bytes")
                }
                let big = member.size >= 0xFFFF_FFFF
                let local = NPZFile.localHeader(name: member.name, size: member.size, crc: UInt32(truncatingIfNeeded: member.crc), big: big)
                try local.withUnsafeBytes { try file.write($0, at: member.headerOffset) }
                let farOffset = member.headerOffset >= 0xFFFF_FFFF
                var extra = Data()
                if big { extra.le(UInt64(member.size)); extra.le(UInt64(member.size)) }
                if farOffset { extra.le(UInt64(member.headerOffset)) }
                central.le(UInt32(0x0201_4B50)); central.le(UInt16(45)); central.le(UInt16(big || farOffset ? 45 : 20))
                central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0x21))
                central.le(UInt32(truncatingIfNeeded: member.crc))
                central.le(big ? UInt32.max : UInt32(member.size)); central.le(big ? UInt32.max : UInt32(member.size))
                central.le(UInt16(member.name.count)); central.le(UInt16(extra.isEmpty ? 0 : extra.count + 4)); central.le(UInt16(0))
                central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0))
                central.le(farOffset ? UInt32.max : UInt32(member.headerOffset))
                central.append(contentsOf: member.name)
                if !extra.isEmpty { central.le(UInt16(1)); central.le(UInt16(extra.count)); central.append(extra) }
            }
            let count = UInt64(members.count), centralOffset = UInt64(end)
            var tail = central
            if centralOffset >= 0xFFFF_FFFF || centralOffset + UInt64(central.count) >= 0xFFFF_FFFF || count >= 0xFFFF {
                let recordOffset = centralOffset + UInt64(central.count)
                tail.le(UInt32(0x0606_4B50)); tail.le(UInt64(44)); tail.le(UInt16(45)); tail.le(UInt16(45))
                tail.le(UInt32(0)); tail.le(UInt32(0)); tail.le(count); tail.le(count)
                tail.le(UInt64(central.count)); tail.le(centralOffset)
                tail.le(UInt32(0x0706_4B50)); tail.le(UInt32(0)); tail.le(recordOffset); tail.le(UInt32(1))
            }
            tail.le(UInt32(0x0605_4B50)); tail.le(UInt16(0)); tail.le(UInt16(0))
            tail.le(UInt16(min(count, 0xFFFF))); tail.le(UInt16(min(count, 0xFFFF)))
            tail.le(UInt32(min(UInt64(central.count), 0xFFFF_FFFF))); tail.le(UInt32(min(centralOffset, 0xFFFF_FFFF)))
            tail.le(UInt16(0))
            try tail.withUnsafeBytes { try file.write($0, at: end) }
        }

        public func commit() throws { try file.commit() }

        public func discard() { file.discard() }
    }

    /// A stored member's local file header (time 00:00, date 1980-01-01), with a ZIP64 extra
    /// field holding the sizes when `big`.
    static func localHeader(name: [UInt8], size: Int, crc: UInt32, big: Bool) -> Data {
        var local = Data()
        local.le(UInt32(0x0403_4B50)); local.le(UInt16(big ? 45 : 20)); local.le(UInt16(0)); local.le(UInt16(0))
        local.le(UInt16(0)); local.le(UInt16(0x21))
        local.le(crc)
        local.le(big ? UInt32.max : UInt32(size)); local.le(big ? UInt32.max : UInt32(size))
        local.le(UInt16(name.count)); local.le(UInt16(big ? 20 : 0))
        local.append(contentsOf: name)
        if big { local.le(UInt16(1)); local.le(UInt16(16)); local.le(UInt64(size)); local.le(UInt64(size)) }
        return local
    }
}

private extension Data {
    /// Appends an integer in little-endian byte order.
    mutating func le<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
