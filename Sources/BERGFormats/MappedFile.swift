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
    /// Kept open for `read`.
    private let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw BERGError.fileNotFound(path: path, hint: nil) }
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw BERGError.corruptFile(path: path, offset: nil, message: "not a regular file")
        }
        descriptor = fd
        count = Int(info.st_size)
        guard count > 0 else { base = nil; return }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            close(fd)
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot map: \(String(cString: strerror(errno)))")
        }
        base = mapped
    }

    deinit {
        if let base { munmap(base, count) }
        close(descriptor)
    }

    /// Copies `count` bytes that lie at `source` in the mapping into `destination` by reading
    /// the file (pread), which maps none of their pages; false when they are not in this
    /// mapping or the read fails (the caller then copies from the mapping).
    public func read(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        guard let base, count > 0 else { return count == 0 }
        let offset = source - UnsafeRawPointer(base)
        guard offset >= 0, offset + count <= self.count else { return false }
        var done = 0
        while done < count {
            let got = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }

    /// The whole file; slices of it share the mapping and keep this object alive.
    public var data: Data {
        guard let base else { return Data() }
        return Data(bytesNoCopy: base, count: count, deallocator: .custom { [self] _, _ in withExtendedLifetime(self) {} })
    }

    /// Gives the pages that hold `bytes` (a slice of `data`) back to the kernel: the process's
    /// resident memory shrinks, and a later read maps them in again from the page cache. The
    /// mapping is read-only and never written, so dropping a page that neighbouring bytes
    /// still need costs only that re-read. Does nothing for bytes outside this mapping.
    public func release(_ bytes: UnsafeRawBufferPointer) {
        guard let base, let start = bytes.baseAddress, !bytes.isEmpty else { return }
        let lower = UInt(bitPattern: base), upper = lower + UInt(count)
        let from = UInt(bitPattern: start), to = from + UInt(bytes.count)
        guard from >= lower, to <= upper else { return }
        let first = from / MappedFile.pageSize * MappedFile.pageSize
        let last = min((to + MappedFile.pageSize - 1) / MappedFile.pageSize * MappedFile.pageSize,
                       (upper + MappedFile.pageSize - 1) / MappedFile.pageSize * MappedFile.pageSize)
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        madvise(pointer, Int(last - first), MADV_DONTNEED)
    }

    /// Gives back every page of the mapping touched so far.
    public func releaseAll() {
        guard let base else { return }
        madvise(base, count, MADV_DONTNEED)
    }

    static let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
}
