import BERGCore
import CArchive
import Foundation

/// Safe extraction of tar, tar.gz, tar.zst, zip and wheel files through libarchive.
///
/// Every entry must stay inside the target folder: absolute paths, `..` components, links
/// that point outside, paths that pass through a symbolic link, and device files, FIFOs and
/// sockets are refused (the whole archive fails with an error naming the entry). Files are
/// opened with `O_NOFOLLOW`, so nothing is ever written outside the target.
public enum ArchiveExtractor {
    private static let regularType: UInt32 = 0o100000
    private static let directoryType: UInt32 = 0o040000
    private static let symlinkType: UInt32 = 0o120000

    /// Extracts `archive` into `target` (created if needed). With `members`, only entries whose
    /// path is listed are written. Returns the relative paths written, in archive order.
    @discardableResult
    public static func extract(_ archive: URL, into target: URL, members: Set<String>? = nil) throws -> [String] {
        guard let reader = archive_read_new() else { throw BERGError.missingDependency("libarchive could not start") }
        defer { archive_read_free(reader) }
        archive_read_support_filter_all(reader)
        archive_read_support_format_all(reader)
        guard archive_read_open_filename(reader, archive.path, 1 << 16) == ARCHIVE_OK else {
            throw BERGError.corruptFile(path: archive.path, offset: nil, message: "cannot open as an archive: \(errorText(reader))")
        }
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        var written: [String] = []
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else {
                throw BERGError.corruptFile(path: archive.path, offset: nil, message: "unreadable entry: \(errorText(reader))")
            }
            guard let rawName = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
                throw refused(archive, "(unnamed)", "has no name", target)
            }
            let name = String(cString: rawName)
            let relative = try safeRelativePath(name, archive: archive, target: target)
            if let members, !members.contains(relative) { archive_read_data_skip(reader); continue }
            if relative.isEmpty { continue } // "./" itself
            let destination = target.appendingPathComponent(relative)
            let type = UInt32(archive_entry_filetype(entry))

            if let hardLink = archive_entry_hardlink(entry) {
                let linkTarget = try safeRelativePath(String(cString: hardLink), archive: archive, target: target)
                try makeParents(of: relative, in: target, archive: archive)
                try makeParents(of: linkTarget, in: target, archive: archive)
                unlink(destination.path)
                guard link(target.appendingPathComponent(linkTarget).path, destination.path) == 0 else {
                    throw BERGError.writeFailed(path: destination.path, message: "hard link to \(linkTarget): \(String(cString: strerror(errno)))")
                }
            } else if type == directoryType {
                try makeParents(of: relative + "/.", in: target, archive: archive)
            } else if type == regularType {
                try makeParents(of: relative, in: target, archive: archive)
                let declared = archive_entry_size_is_set(entry) != 0 ? Int64(archive_entry_size(entry)) : nil
                try writeData(reader, to: destination, archive: archive, declared: declared)
            } else if type == symlinkType {
                let pointee = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                guard !pointee.hasPrefix("/"), isInside(link: relative, pointee: pointee) else {
                    throw refused(archive, name, "is a link to '\(pointee)', outside the folder", target)
                }
                try makeParents(of: relative, in: target, archive: archive)
                unlink(destination.path)
                guard symlink(pointee, destination.path) == 0 else {
                    throw BERGError.writeFailed(path: destination.path, message: String(cString: strerror(errno)))
                }
            } else {
                throw refused(archive, name, "is a device file, FIFO or socket", target)
            }
            written.append(relative)
        }
        return written
    }

    /// `name` as a clean relative path, or an error when it is absolute or climbs with `..`.
    static func safeRelativePath(_ name: String, archive: URL, target: URL) throws -> String {
        guard !name.hasPrefix("/"), !name.hasPrefix("\\") else { throw refused(archive, name, "has an absolute path", target) }
        var parts: [Substring] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            guard part != ".." else { throw refused(archive, name, "climbs out with '..'", target) }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Whether a symbolic link at `link` pointing to the relative `pointee` stays inside.
    static func isInside(link: String, pointee: String) -> Bool {
        var stack = link.split(separator: "/").dropLast().map(String.init)
        for part in pointee.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                guard !stack.isEmpty else { return false }
                stack.removeLast()
            } else {
                stack.append(String(part))
            }
        }
        return true
    }

    /// Creates the folders above `relative`, refusing any that is a symbolic link or a file.
    private static func makeParents(of relative: String, in target: URL, archive: URL) throws {
        var current = target.path
        for part in relative.split(separator: "/").dropLast() where part != "." {
            current += "/" + part
            var info = stat()
            if lstat(current, &info) == 0 {
                let kind = UInt32(info.st_mode) & 0o170000
                if kind == symlinkType { throw refused(archive, relative, "passes through the symbolic link \(current)", target) }
                guard kind == directoryType else { throw refused(archive, relative, "needs \(current) to be a folder", target) }
            } else if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw BERGError.writeFailed(path: current, message: String(cString: strerror(errno)))
            }
        }
    }

    /// Writes an entry's bytes; an entry that inflates past the size its header declares is
    /// refused (a bomb stops there).
    private static func writeData(_ reader: OpaquePointer, to destination: URL, archive: URL, declared: Int64?) throws {
        unlink(destination.path)
        let fd = open(destination.path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BERGError.writeFailed(path: destination.path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = archive_read_data(reader, buffer, 1 << 16)
            if n == 0 { break }
            guard n > 0 else {
                throw BERGError.corruptFile(path: archive.path, offset: nil, message: "cannot read \(destination.lastPathComponent): \(errorText(reader))")
            }
            total += Int64(n)
            if let declared, total > declared {
                unlink(destination.path)
                throw BERGError.corruptFile(path: archive.path, offset: nil, message: "\(destination.lastPathComponent) inflates past the \(declared) bytes its header declares; the archive is corrupt or hostile")
            }
            var done = 0
            while done < n {
                let w = write(fd, buffer + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw BERGError.writeFailed(path: destination.path, message: String(cString: strerror(errno)))
                }
                done += w
            }
        }
    }

    private static func errorText(_ reader: OpaquePointer) -> String {
        archive_error_string(reader).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    private static func refused(_ archive: URL, _ name: String, _ why: String, _ target: URL) -> BERGError {
        .unexpectedContent(path: archive.path, message: "entry '\(name)' \(why); the archive was refused and nothing was written outside \(target.path)")
    }
}
