import Foundation

/// An exclusive `flock` on `NAME.lock`, held while one process fetches NAME so that a second
/// process waits instead of downloading the same bytes again. It saves bandwidth only:
/// correctness never depends on it (files are verified, then renamed into place).
final class FileLock {
    private let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Takes the lock, waiting for another holder (and saying so through `onWait`). Returns nil
    /// when the file system cannot lock (then the caller works on its own temporary file).
    static func acquire(_ path: String, onWait: (() -> Void)? = nil) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return FileLock(fd: fd, path: path) }
        guard errno == EWOULDBLOCK else { close(fd); return nil }
        onWait?()
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { close(fd); return nil }
        }
        return FileLock(fd: fd, path: path)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
