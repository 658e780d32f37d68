import BERGCore
import Crypto
import Foundation

/// Hashes of a file's bytes, read once in chunks.
struct FileDigest: Equatable {
    var sha256: String
    var md5: String?

    static func of(_ url: URL, md5 wantMD5: Bool = false) throws -> FileDigest {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw BERGError.fileNotFound(path: url.path, hint: nil)
        }
        defer { try? handle.close() }
        var sha = SHA256()
        var md5 = wantMD5 ? Insecure.MD5() : nil
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw BERGError.corruptFile(path: url.path, offset: nil, message: "cannot read: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            sha.update(data: chunk)
            md5?.update(data: chunk)
        }
        return FileDigest(sha256: hex(sha.finalize()), md5: md5.map { hex($0.finalize()) })
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef")
        var out = ""
        for byte in digest { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return out
    }

    /// torchvision's convention: `resnet18-f37072fd.pth` carries the first hex digits of the
    /// file's SHA-256 after the last `-` of the name.
    static func torchvisionPrefix(inFileName name: String) -> String? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let tail = name[name.index(after: dash)...]
        guard let dot = tail.firstIndex(of: ".") else { return nil }
        let digits = tail[..<dot]
        guard digits.count >= 8, digits.count <= 64, digits.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return String(digits)
    }

    /// An S3 `ETag` that is a plain MD5 of the bytes: 32 hex digits, no `-` (multipart uploads
    /// have `-N` and are not an MD5 of the file).
    static func plainMD5(fromETag etag: String?) -> String? {
        guard var tag = etag?.trimmingCharacters(in: .whitespaces) else { return nil }
        if tag.hasPrefix("W/") { return nil } // weak: not a byte-for-byte promise
        tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard tag.count == 32, tag.allSatisfy(\.isHexDigit) else { return nil }
        return tag.lowercased()
    }
}

/// SHA-256 digests as lower-case hex, for code above the store (publishing, checks).
public enum SHA256Hex {
    /// A file's, read in chunks.
    public static func of(file url: URL) throws -> String { try FileDigest.of(url).sha256 }

    /// Bytes in memory.
    public static func of(bytes: UnsafeRawBufferPointer) -> String {
        FileDigest.hex(SHA256.hash(data: bytes))
    }
}
