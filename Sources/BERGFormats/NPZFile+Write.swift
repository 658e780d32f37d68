import BERGCore
@preconcurrency import CZlib
import Foundation

extension NPZFile {
    /// Writes arrays as `np.savez` does: a zip of stored (uncompressed) `<name>.npy` members,
    /// which `np.load(path)[name]` reads. Through a temporary file renamed into place. The zip
    /// has no ZIP64 records, so the whole file must stay under 4 GiB.
    public static func write(_ arrays: [(name: String, tensor: Tensor)], to path: String) throws {
        var central = Data()
        var offset = 0
        var members: [(name: [UInt8], data: Data, crc: UInt32, offset: Int)] = []
        for (name, tensor) in arrays {
            let data = NPYFile.encode(tensor)
            let crc = data.withUnsafeBytes { bytes -> UInt32 in
                var value = crc32(0, nil, 0)
                var done = 0
                while done < bytes.count {
                    let n = min(bytes.count - done, 1 << 30)
                    value = crc32(value, bytes.baseAddress!.advanced(by: done).assumingMemoryBound(to: Bytef.self), uInt(n))
                    done += n
                }
                return UInt32(value)
            }
            let entryName = Array((name + ".npy").utf8)
            members.append((entryName, data, crc, offset))
            offset += 30 + entryName.count + data.count
        }
        guard offset + members.reduce(0, { $0 + 46 + $1.name.count }) + 22 < Int(UInt32.max), members.count < 0xFFFF else {
            throw BERGError.writeFailed(path: path, message: "the arrays make a .npz of 4 GiB or more, more than a plain zip can index")
        }
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
        // Version 2.0, no flags, method 0 (stored), time and date of 1980-01-01.
        let common = le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
        try AtomicFile.write(to: path) { sink in
            for member in members {
                let local = le32(0x0403_4B50) + common + le32(Int(member.crc)) + le32(member.data.count) + le32(member.data.count)
                    + le16(member.name.count) + le16(0) + member.name
                try local.withUnsafeBytes { try sink($0) }
                try member.data.withUnsafeBytes { try sink($0) }
                central.append(contentsOf: le32(0x0201_4B50) + le16(20) + common + le32(Int(member.crc)) + le32(member.data.count)
                    + le32(member.data.count) + le16(member.name.count) + le16(0) + le16(0) + le16(0) + le16(0)
                    + le32(0) + le32(member.offset) + member.name)
            }
            let end = le32(0x0605_4B50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
                + le32(central.count) + le32(offset) + le16(0)
            try central.withUnsafeBytes { try sink($0) }
            try end.withUnsafeBytes { try sink($0) }
        }
    }
}
