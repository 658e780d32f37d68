import BERGCore
import Foundation

/// How much the readers may allocate for one file's contents, and how far compressed data may
/// expand. They protect against hostile or damaged files (a small file that declares a huge
/// array, a zip or gzip bomb):
///
/// - **`maxBytes`**: the most bytes one array, dataset, volume, decoded image or inflated zip
///   member may take: a quarter of the memory this process may use (the machine's physical
///   memory, or a smaller cgroup limit), and at least 1 GiB. A file that declares more is
///   refused before anything is allocated.
/// - **`maxCompressionRatio`**: deflate (zip, gzip, PNG) cannot expand data more than about
///   1,032 times, so a header that declares more than `maxCompressionRatio` bytes per
///   compressed byte is refused before inflating. Real files stay below it: the most
///   compressible files seen (img2fmri's mostly-empty NIfTI masks) expand about 960 times.
/// - Inflation always stops at what the header declares (an array's shape, a NIfTI's
///   dimensions, a zip member's size), never at the end of the compressed stream.
public enum ReadLimits {
    public static let maxCompressionRatio = 1032

    /// A quarter of `availableMemory`, at least 1 GiB.
    public static let maxBytes: Int = max(1 << 30, Int(clamping: availableMemory / 4))

    /// The machine's physical memory, or the cgroup (container) memory limit when lower.
    public static var availableMemory: UInt64 {
        var memory = ProcessInfo.processInfo.physicalMemory
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                memory = min(memory, limit)
            }
        }
        return memory
    }

    /// `bytes` of `what` may be allocated, or an error naming the limit.
    public static func check(_ bytes: Int, of what: String) throws {
        guard bytes <= maxBytes else {
            throw BERGError.limitExceeded(what: what, limit: maxBytes, actual: bytes)
        }
    }

    /// `declared` bytes may be inflated from `compressed` bytes: at most `maxBytes`, and at
    /// most `maxCompressionRatio` times the compressed size.
    public static func checkInflation(declared: Int, compressed: Int, of what: String, path: String) throws {
        try check(declared, of: what)
        let (most, overflow) = max(compressed, 1).multipliedReportingOverflow(by: maxCompressionRatio)
        guard overflow || declared <= most else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "\(what) declares \(declared) bytes from \(compressed) compressed bytes, more than deflate can produce (\(maxCompressionRatio):1); the file is corrupt or hostile")
        }
    }
}
