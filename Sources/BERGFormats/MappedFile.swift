import BERGCore
import Foundation

/// A file mapped read-only into memory. Its bytes count towards the process's memory only
/// while they are touched, and `release` gives touched pages back (they stay in the kernel's
/// page cache, so touching them again is cheap). `Data(contentsOf:options: .mappedIfSafe)`
/// reads the whole file into memory on Linux; this does not.
///
/// `data` and every slice of it keep the mapping alive. The file must not shrink while it is
/// mapped (model files in the cache or a BERG directory do not change).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw BERGError.fileNotFound(path: path, hint: nil) }
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "not a regular file")
        }
        count = Int(info.st_size)
        guard count > 0 else { base = nil; return }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = mapped
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The whole file; slices of it share the mapping and keep this object alive.
    public var data: Data {
        guard let base else { return Data() }
        return Data(bytesNoCopy: base, count: count, deallocator: .custom { [self] _, _ in withExtendedLifetime(self) {} })
    }

    /// Gives the whole pages inside `bytes` (a slice of `data`) back to the kernel: the
    /// process's resident memory shrinks, and a later read maps them in again from the page
    /// cache. Does nothing for bytes that do not lie in this mapping.
    public func release(_ bytes: UnsafeRawBufferPointer) {
        guard let base, let start = bytes.baseAddress, !bytes.isEmpty else { return }
        let lower = UInt(bitPattern: base), upper = lower + UInt(count)
        let from = UInt(bitPattern: start)
        guard from >= lower, from + UInt(bytes.count) <= upper else { return }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let first = (from + page - 1) / page * page
        let last = (from + UInt(bytes.count)) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        madvise(pointer, Int(last - first), MADV_DONTNEED)
    }
}
