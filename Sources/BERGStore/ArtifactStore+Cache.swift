import BERGCore
import BERGRegistry
import Foundation

/// A file in the cache.
public struct CachedFile: Sendable, Equatable {
    /// Its path relative to the cache root (the key in pins.json).
    public var path: String
    public var url: URL
    public var size: Int64
}

/// The outcome of re-hashing one cached file.
public struct CacheVerification: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// Matches its pin and, where it has one, the manifest's SHA-256.
        case ok
        /// Differs from what was expected (`against` says which record).
        case mismatch(expected: String, against: String)
        /// No pin and no manifest hash to compare with (placed by hand, or pins.json was reset).
        case unpinned
    }
    public var path: String
    public var sha256: String
    public var status: Status
}

extension ArtifactStore {
    /// Every file a model could need over all its subjects and selections (no duplicates),
    /// leaving out combinations whose paths cannot be filled in.
    public func allFiles(of manifest: Manifest, subjects: [Subject]? = nil) -> [PlannedFile] {
        var seen = Set<String>()
        var files: [PlannedFile] = []
        for subject in subjects ?? manifest.subjects {
            for selection in manifest.allSelections {
                guard let plan = try? plan(for: manifest, subject: subject, selection: selection) else { continue }
                for file in plan where seen.insert(file.cachePath ?? file.local.path).inserted { files.append(file) }
            }
        }
        return files
    }

    /// Every finished file in the cache (not `.part`, `.lock`, pins.json, registries.yaml or
    /// staging folders).
    public func cachedFiles() -> [CachedFile] {
        guard let walker = FileManager.default.enumerator(at: home, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else { return [] }
        var files: [CachedFile] = []
        let root = home.standardizedFileURL.path
        for case let url as URL in walker {
            let name = url.lastPathComponent
            if name.hasPrefix(".staging-") { walker.skipDescendants(); continue }
            guard let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey]), values.isRegularFile == true else { continue }
            if name.hasSuffix(".part") || name.hasSuffix(".lock") || name.hasSuffix(".tmp") || name == "pins.json" { continue }
            var relative = url.standardizedFileURL.path
            if relative.hasPrefix(root + "/") { relative.removeFirst(root.count + 1) }
            // The user's list of published indexes is a setting, not a cached file.
            if relative == "registries.yaml" { continue }
            files.append(CachedFile(path: relative, url: url, size: Int64(values.fileSize ?? 0)))
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Cached files grouped by the model whose manifest names them; files no manifest names
    /// are listed under the empty model id.
    public func cachedFilesByModel(manifests: [Manifest]) -> [(modelID: String, files: [CachedFile])] {
        let cached = cachedFiles()
        var claimed = Set<String>()
        var groups: [(modelID: String, files: [CachedFile])] = []
        for manifest in manifests.sorted(by: { $0.modelID < $1.modelID }) {
            let paths = Set(allFiles(of: manifest).compactMap(\.cachePath))
            let files = cached.filter { paths.contains($0.path) }
            claimed.formUnion(files.map(\.path))
            if !files.isEmpty { groups.append((manifest.modelID, files)) }
        }
        let others = cached.filter { !claimed.contains($0.path) && !$0.path.hasSuffix(".whl") }
        if !others.isEmpty { groups.append(("", others)) }
        return groups
    }

    /// Re-hashes cached files against their pins and their manifests' SHA-256; with `modelID`,
    /// only that model's files.
    public func verify(manifests: [Manifest], modelID: String? = nil) throws -> [CacheVerification] {
        let pinned = try pins.load()
        var expected: [String: String] = [:]
        var wanted: Set<String>?
        for manifest in manifests {
            let files = allFiles(of: manifest)
            for file in files where file.source != .pip { if let key = file.cachePath, let sha = file.sha256 { expected[key] = sha } }
            if manifest.modelID == modelID { wanted = Set(files.compactMap(\.cachePath)) }
        }
        if let modelID, wanted == nil {
            throw BERGError.unknownModel(id: modelID, known: manifests.map(\.modelID).sorted())
        }
        return try cachedFiles().filter { wanted?.contains($0.path) ?? true }.map { file in
            let sha = try FileDigest.of(file.url).sha256
            var status = CacheVerification.Status.unpinned
            if let manifestSHA = expected[file.path], manifestSHA != sha {
                status = .mismatch(expected: manifestSHA, against: "manifest")
            } else if let pin = pinned[file.path], pin != sha {
                status = .mismatch(expected: pin, against: "pins.json")
            } else if pinned[file.path] != nil || expected[file.path] != nil {
                status = .ok
            }
            return CacheVerification(path: file.path, sha256: sha, status: status)
        }
    }

    /// Deletes cached files (and leftover `.part` and `.lock` files): all of them, or with
    /// `manifest` only that model's. Pins stay, so a later download is still checked against
    /// the first. Returns the paths removed.
    @discardableResult
    public func clean(manifest: Manifest? = nil) throws -> [String] {
        let targets: [CachedFile]
        if let manifest {
            let paths = Set(allFiles(of: manifest).compactMap(\.cachePath))
            targets = cachedFiles().filter { paths.contains($0.path) }
        } else {
            targets = cachedFiles()
        }
        var removed: [String] = []
        for file in targets {
            for suffix in ["", ".part", ".lock"] {
                let path = file.url.path + suffix
                if FileManager.default.fileExists(atPath: path) {
                    do { try FileManager.default.removeItem(atPath: path) } catch {
                        throw BERGError.writeFailed(path: path, message: "cannot delete: \(error.localizedDescription)")
                    }
                }
            }
            removed.append(file.path)
        }
        if manifest == nil {
            // Leftovers of broken downloads that never finished.
            if let walker = FileManager.default.enumerator(at: home, includingPropertiesForKeys: nil) {
                for case let url as URL in walker where url.lastPathComponent.hasSuffix(".part") || url.lastPathComponent.hasPrefix(".staging-") {
                    try? FileManager.default.removeItem(at: url)
                }
            }
        }
        return removed
    }
}
