import BERGCore
import BERGRegistry
import Foundation

/// One published model version, as an index lists it, with its manifest read and checked.
public struct PublishedModel: Sendable {
    public var manifest: Manifest
    public var entry: PublishedIndex.Entry
    /// The manifest's address (for messages and the registry's `source`).
    public var manifestURL: URL
    public var index: IndexLocation
}

/// Reads a published index and the manifests it lists. Remote ones go through the store's
/// cache:
///
///     $BERG_HOME/registries/
///     └── lab.example.org/berg/                  the index's host ([_port]) and folder
///         ├── index.yaml                          the last copy fetched
///         └── lab-v1/1.0/manifest.yaml            each manifest, as the index names it
///
/// The index is fetched anew on each use (it grows as models are published); when that fails,
/// the cached copy is used and a notice says so, and `BERG_OFFLINE=1` uses the cache only.
/// A manifest is fetched once and checked against the SHA-256 the index gives for it, every
/// time it is read: one that differs is refused. Local indexes are read in place, checked the
/// same way.
public struct PublishedIndexReader {
    public let store: ArtifactStore?

    public init(store: ArtifactStore?) { self.store = store }

    /// Every model version the index lists, in the index's order.
    public func models(in location: IndexLocation) throws -> [PublishedModel] {
        let index = try self.index(at: location)
        return try index.models.map { try model($0, in: location) }
    }

    /// The newest version of each id the index lists.
    public func newestModels(in location: IndexLocation) throws -> [PublishedModel] {
        let index = try self.index(at: location)
        return try index.newest.map { try model($0, in: location) }
    }

    /// The index itself, read strictly.
    public func index(at location: IndexLocation) throws -> PublishedIndex {
        let file = try indexFile(location)
        return try PublishedIndex.load(yaml: try text(of: file), file: location.description)
    }

    /// One listed version: its manifest, fetched (or found in the cache) and checked.
    public func model(_ entry: PublishedIndex.Entry, in location: IndexLocation) throws -> PublishedModel {
        let address = location.resolve(entry.manifest)
        let name = location.isLocal ? address.path : address.absoluteString
        var file = try manifestFile(entry, address: address, location: location)
        var actual = try FileDigest.of(file).sha256
        if actual != entry.sha256.lowercased(), !location.isLocal, let store, !store.options.offline {
            // A cached copy from an earlier index: fetch the one this index names.
            try? FileManager.default.removeItem(at: file)
            file = try manifestFile(entry, address: address, location: location)
            actual = try FileDigest.of(file).sha256
        }
        guard actual == entry.sha256.lowercased() else {
            throw BERGError.checksumMismatch(
                path: name, expected: "\(entry.sha256) (the SHA-256 that \(location) lists for \(entry.modelID) \(entry.version))",
                actual: "\(actual); the manifest was refused. The manifest or the index changed after publication: ask its publisher, or forget the index with `berg registry remove NAME`")
        }
        var manifest = try ManifestLoader.load(yaml: try text(of: file), file: name)
        guard manifest.modelID == entry.modelID, manifest.version == entry.version else {
            throw BERGError.invalidManifest(file: name, keyPath: "model_id",
                                            message: "the manifest is \(manifest.modelID) version \(manifest.version), but \(location) lists it as \(entry.modelID) version \(entry.version)")
        }
        if location.isLocal { manifest.sourceFolder = address.deletingLastPathComponent().path }
        return PublishedModel(manifest: manifest, entry: entry, manifestURL: address, index: location)
    }

    // MARK: - Files

    private func indexFile(_ location: IndexLocation) throws -> URL {
        if location.isLocal {
            guard FileManager.default.fileExists(atPath: location.url.path) else {
                throw BERGError.fileNotFound(path: location.url.path, hint: "A published index is the index.yaml that `berg publish --to` writes")
            }
            return location.url
        }
        let store = try remoteStore(location)
        let cached = store.home.appendingPathComponent(location.cacheFolder + "/index.yaml")
        if store.options.offline {
            guard FileManager.default.fileExists(atPath: cached.path) else {
                throw BERGError.fileNotFound(path: cached.path, hint: "Offline mode (BERG_OFFLINE) is on and the index \(location) has not been fetched into the cache yet; unset BERG_OFFLINE and run the command once online (`berg registry add` fetches it)")
            }
            return cached
        }
        do {
            try download(location.url, to: cached, store: store)
        } catch {
            guard FileManager.default.fileExists(atPath: cached.path) else { throw error }
            store.options.notice?("could not fetch \(location) (\(error.localizedDescription)); using the copy cached at \(cached.path)")
        }
        return cached
    }

    private func manifestFile(_ entry: PublishedIndex.Entry, address: URL, location: IndexLocation) throws -> URL {
        if location.isLocal { return address }
        let store = try remoteStore(location)
        let cached = store.home.appendingPathComponent(location.cacheFolder + "/" + entry.manifest)
        if FileManager.default.fileExists(atPath: cached.path) { return cached }
        guard !store.options.offline else {
            throw BERGError.fileNotFound(path: cached.path, hint: "Offline mode (BERG_OFFLINE) is on and the manifest of \(entry.modelID) \(entry.version) from \(location) has not been fetched into the cache yet; unset BERG_OFFLINE and run the command once online")
        }
        try download(address, to: cached, store: store)
        return cached
    }

    private func remoteStore(_ location: IndexLocation) throws -> ArtifactStore {
        guard let store else {
            throw BERGError.unsupported("The index \(location) is remote and this BERG has no ArtifactStore to fetch it through; make it with BERG(home:registries:storeOptions:)")
        }
        return store
    }

    /// Fetches a small file afresh and renames it into place.
    private func download(_ url: URL, to final: URL, store: ArtifactStore) throws {
        try store.createFolder(final.deletingLastPathComponent())
        let part = URL(fileURLWithPath: final.path + ".\(getpid()).part")
        unlink(part.path)
        do {
            _ = try store.transfer(url.absoluteString, into: part, name: url.absoluteString)
        } catch {
            unlink(part.path)
            throw error
        }
        guard rename(part.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(part.path)
            throw BERGError.writeFailed(path: final.path, message: reason)
        }
    }

    private func text(of file: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw BERGError.fileNotFound(path: file.path, hint: nil)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BERGError.corruptFile(path: file.path, offset: nil, message: "not UTF-8 text")
        }
        return text
    }
}
