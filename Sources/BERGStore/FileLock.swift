import Foundation

/// An exclusive `flock` on `NAME.lock`, held while one process fetches NAME so that a second
/// process waits instead of downloading the same bytes again (and while `pins.json` is
/// updated). For downloads it saves bandwidth only: correctness never depends on it (files are
/// verified, then renamed into place). `berg publish` holds one on a published folder while
/// it puts a version into place and updates the index.
///
/// The lock file is removed when the work is done, whether it succeeded or failed, so the
/// cache keeps no `.lock` files. That is safe because a process that takes the lock checks
/// that the file it locked is still the one at the path; if the holder before it removed the
/// file meanwhile, it locks a fresh one instead.
public final class FileLock {
    private let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Runs `body` holding the lock at `path` (or without one, where the file system cannot
    /// lock; then `body` gets false and must work on its own temporary files), then removes
    /// the lock file. `onWait` is called once if another process holds the lock.
    public static func withLock<T>(_ path: String, onWait: (() -> Void)? = nil, _ body: (_ locked: Bool) throws -> T) rethrows -> T {
        let lock = acquire(path, onWait: onWait)
        defer { lock?.release() }
        return try body(lock != nil)
    }

    /// Takes the lock, waiting for another holder (and saying so through `onWait`). Returns nil
    /// when the file system cannot lock.
    private static func acquire(_ path: String, onWait: (() -> Void)? = nil) -> FileLock? {
        var told = false
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return nil }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK else { close(fd); return nil }
                if !told { onWait?(); told = true }
                while flock(fd, LOCK_EX) != 0 {
                    guard errno == EINTR else { close(fd); return nil }
                }
            }
            // The holder before us removes the file as it finishes: ours must be the one at the path.
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, stat(path, &current) == 0, held.st_ino == current.st_ino, held.st_dev == current.st_dev {
                return FileLock(fd: fd, path: path)
            }
            close(fd)
        }
    }

    /// Removes the lock file, then unlocks: a waiting process then finds the file gone and
    /// locks a fresh one.
    func release() {
        unlink(path)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
