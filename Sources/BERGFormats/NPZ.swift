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
                throw BERGError.unexpectedContent(path: path, message: "array '\(name)' is \(value.kindName), not numeric; use NPZFile.readValues")
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
    /// Writes arrays as `np.savez` does: a zip of stored (uncompressed) `<name>.npy` members,
    /// with ZIP64 records where a member or the archive passes 4 GiB. Float32 tensors are
    /// written straight from their storage; the file appears whole or not at all.
    public static func write(_ arrays: [(name: String, tensor: Tensor)], to path: String) throws {
        try AtomicFile.write(to: path) { sink in
            var offset: UInt64 = 0
            var central = Data()
            func emit(_ data: Data) throws {
                try data.withUnsafeBytes { try sink($0) }
                offset += UInt64(data.count)
            }
            for (name, tensor) in arrays {
                let header = NPYFile.header(for: tensor)
                // Float32 data is written from the tensor's own storage; other types through a copy.
                let floats: [Float]? = { if case .float32(let values) = tensor.storage { return values }; return nil }()
                let copied = floats == nil ? RawArray.littleEndianBytes(of: tensor) : Data()
                func body<R>(_ use: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
                    if let floats { return try floats.withUnsafeBytes(use) }
                    return try copied.withUnsafeBytes(use)
                }
                let size = UInt64(header.count + body { $0.count })
                var crc = header.withUnsafeBytes { crc32(0, $0.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt($0.count)) }
                body { raw in
                    var at = 0
                    while at < raw.count {  // zlib takes 32-bit lengths
                        let n = min(raw.count - at, 1 << 30)
                        crc = crc32(crc, raw.baseAddress!.advanced(by: at).assumingMemoryBound(to: Bytef.self), uInt(n))
                        at += n
                    }
                }
                let fileName = Array("\(name).npy".utf8)
                let big = size >= 0xFFFF_FFFF, farOffset = offset >= 0xFFFF_FFFF
                var local = Data()
                local.le(UInt32(0x0403_4B50)); local.le(UInt16(big ? 45 : 20)); local.le(UInt16(0)); local.le(UInt16(0))
                local.le(UInt16(0)); local.le(UInt16(0x21))  // time 00:00, date 1980-01-01
                local.le(UInt32(truncatingIfNeeded: crc))
                local.le(big ? UInt32.max : UInt32(size)); local.le(big ? UInt32.max : UInt32(size))
                local.le(UInt16(fileName.count)); local.le(UInt16(big ? 20 : 0))
                local.append(contentsOf: fileName)
                if big { local.le(UInt16(1)); local.le(UInt16(16)); local.le(size); local.le(size) }
                let localOffset = offset
                try emit(local)
                try emit(header)
                try body { raw in
                    try sink(raw)
                    offset += UInt64(raw.count)
                }

                var extra = Data()
                if big { extra.le(size); extra.le(size) }
                if farOffset { extra.le(localOffset) }
                central.le(UInt32(0x0201_4B50)); central.le(UInt16(45)); central.le(UInt16(big || farOffset ? 45 : 20))
                central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt16(0x21))
                central.le(UInt32(truncatingIfNeeded: crc))
                central.le(big ? UInt32.max : UInt32(size)); central.le(big ? UInt32.max : UInt32(size))
                central.le(UInt16(fileName.count)); central.le(UInt16(extra.isEmpty ? 0 : extra.count + 4)); central.le(UInt16(0))
                central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0))
                central.le(farOffset ? UInt32.max : UInt32(localOffset))
                central.append(contentsOf: fileName)
                if !extra.isEmpty { central.le(UInt16(1)); central.le(UInt16(extra.count)); central.append(extra) }
            }
            let centralOffset = offset, count = UInt64(arrays.count)
            try emit(central)
            let zip64 = centralOffset >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF || count >= 0xFFFF
            var end = Data()
            if zip64 {
                let recordOffset = offset
                end.le(UInt32(0x0606_4B50)); end.le(UInt64(44)); end.le(UInt16(45)); end.le(UInt16(45))
                end.le(UInt32(0)); end.le(UInt32(0)); end.le(count); end.le(count)
                end.le(UInt64(central.count)); end.le(centralOffset)
                end.le(UInt32(0x0706_4B50)); end.le(UInt32(0)); end.le(recordOffset); end.le(UInt32(1))
            }
            end.le(UInt32(0x0605_4B50)); end.le(UInt16(0)); end.le(UInt16(0))
            end.le(UInt16(min(count, 0xFFFF))); end.le(UInt16(min(count, 0xFFFF)))
            end.le(UInt32(min(UInt64(central.count), 0xFFFF_FFFF))); end.le(UInt32(min(centralOffset, 0xFFFF_FFFF)))
            end.le(UInt16(0))
            try emit(end)
        }
    }
}

private extension Data {
    /// Appends an integer in little-endian byte order.
    mutating func le<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
