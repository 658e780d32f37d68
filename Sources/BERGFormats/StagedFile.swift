import BERGCore
import Foundation

/// A file written under a temporary name in its folder (`.NAME.PID.tmp`) and renamed into place
/// by `commit()`, so that no half-written file is ever left at the destination: `discard()`,
/// or dropping the value without committing, removes the temporary file.
public final class StagedFile {
    public let path: String
    public let temporaryPath: String
    private var descriptor: Int32
    private var done = false
    /// Bytes written so far by `write` (the file's length).
    public private(set) var length = 0

    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw BERGError.writeFailed(path: path, message: "folder \(folder.path) does not exist")
        }
        self.path = path
        temporaryPath = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw BERGError.writeFailed(path: path, message: String(cString: strerror(errno))) }
    }

    deinit { discard() }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, at: length)
        length += bytes.count
    }

    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Writes bytes at `offset`, over what is there (a header filled in at the end).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var rest = bytes, position = offset
        while let base = rest.baseAddress, !rest.isEmpty {
            let written = pwrite(descriptor, base, rest.count, off_t(position))
            if written < 0 {
                if errno == EINTR { continue }
                throw BERGError.writeFailed(path: path, message: String(cString: strerror(errno)))
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
            position += written
        }
    }

    /// Closes the file and renames it into place.
    public func commit() throws {
        guard !done else { return }
        done = true
        // close can report a failed write-back (a full disk on some file systems).
        guard close(descriptor) == 0, rename(temporaryPath, path) == 0 else {
            let error = BERGError.writeFailed(path: path, message: String(cString: strerror(errno)))
            unlink(temporaryPath)
            throw error
        }
    }

    /// Closes and removes the temporary file; nothing appears at `path`.
    public func discard() {
        guard !done else { return }
        done = true
        close(descriptor)
        unlink(temporaryPath)
    }
}
