import BERGCore
import Foundation

/// `$BERG_HOME/pins.json`: the SHA-256 of the first download of each cached path, so that a
/// later download whose bytes differ is refused. Keys are paths relative to the cache root.
/// Read-modify-write happens under `pins.json.lock` and the file is replaced atomically.
struct PinStore {
    let url: URL

    init(home: URL) { url = home.appendingPathComponent("pins.json") }

    func load() throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [:] }
        guard let pins = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw BERGError.corruptFile(path: url.path, offset: nil,
                                        message: "not a JSON object of path → SHA-256; fix or delete the file (its pins are then taken again at the next download)")
        }
        return pins
    }

    /// The hash pinned for `key`, if any.
    func pin(for key: String) throws -> String? { try load()[key] }

    /// Checks `sha256` against the pin for `key`, pinning it when there is none.
    func checkAndPin(_ key: String, sha256: String) throws {
        try FileLock.withLock(url.path + ".lock") { _ in
            var pins = try load()
            if let pinned = pins[key] {
                guard pinned == sha256 else {
                    throw BERGError.unexpectedContent(
                        path: key,
                        message: "the new download's SHA-256 is \(sha256), but \(pinned) was pinned in \(url.path) at its first download. The file changed at its source; the download was refused. If the change is expected, delete that entry from pins.json and fetch again")
                }
                return
            }
            pins[key] = sha256
            try save(pins)
        }
    }

    func save(_ pins: [String: String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(pins)
        try AtomicWrite.write(data, to: url)
    }
}

/// Writes through a temporary file in the same folder, renamed into place.
enum AtomicWrite {
    static func write(_ data: Data, to url: URL) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString.prefix(8)).tmp")
        do {
            try data.write(to: temp)
        } catch {
            throw BERGError.writeFailed(path: url.path, message: error.localizedDescription)
        }
        guard rename(temp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp.path)
            throw BERGError.writeFailed(path: url.path, message: reason)
        }
    }
}
