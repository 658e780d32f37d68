import BERGCore
import CZlib
import Foundation

/// gzip through zlib, for `.nii.gz` files.
enum Gzip {
    static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Inflates at most `limit` bytes (fewer if the stream ends first), following concatenated
    /// gzip members. Reading stops at the limit, so a small hostile file cannot expand without bound.
    static func inflate(_ data: Data, limit: Int, path: String) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw BERGError.missingDependency("zlib could not start an inflater")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        return try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Data in
            guard let base = input.bindMemory(to: Bytef.self).baseAddress else { return Data() }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(input.count)
            while output.count < limit {
                let want = min(chunk.count, limit - output.count)
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(want)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, want - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced > 0:
                    continue
                case Z_STREAM_END:
                    // Another gzip member may follow.
                    guard stream.avail_in > 0, inflateReset(&stream) == Z_OK else { return output }
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "truncated or corrupt gzip stream"
                    throw BERGError.corruptFile(path: path, offset: Int(stream.total_in), message: "gzip: \(detail)")
                }
            }
            return output
        }
    }

    /// Compresses bytes as one gzip member.
    static func deflate(_ data: Data, level: Int32 = 6) throws -> Data {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw BERGError.missingDependency("zlib could not start a compressor")
        }
        defer { deflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(input.count)
            var status = Z_OK
            while status != Z_STREAM_END {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CZlib.deflate(&stream, Z_FINISH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw BERGError.unsupported("zlib failed to compress (status \(status))")
                }
                output.append(contentsOf: chunk[0..<produced])
            }
        }
        return output
    }
}
