@_exported import BERGStore
import Foundation

/// Fetching a model's files ahead of time (`berg get-model`) and looking after the cache
/// (`berg cache list|verify|clean`).
extension BERG {
    /// A facade whose encoders get their files from an `ArtifactStore` at `home`: downloaded on
    /// first use into the cache, or found in `--berg-dir`, or given with `--artifact`.
    public convenience init(home: URL? = nil, registries: [URL] = [], storeOptions: StoreOptions) throws {
        let home = home ?? BERG.defaultHome()
        try self.init(home: home, registries: registries, artifacts: ArtifactStore(home: home, options: storeOptions))
    }

    /// The store this facade fetches through, or one at `home` set up from the `BERG_*`
    /// environment variables when the facade was made with another resolver.
    public var artifactStore: ArtifactStore {
        (artifacts as? ArtifactStore)
            ?? ArtifactStore(home: home, options: StoreOptions(environment: ProcessInfo.processInfo.environment))
    }

    /// The files a model needs for `subjects` (every subject when nil) and for every selection
    /// that agrees with `selection`: an empty selection means all the manifest allows, a
    /// partial one fills in the keys it leaves out. Checks the values against the manifest;
    /// touches no network. Each file is listed once.
    public func modelFiles(_ id: String, subjects: [Subject]? = nil, selection: Selection = [:]) throws -> [PlannedFile] {
        let manifest = try registry.manifest(id)
        let store = artifactStore
        let chosenSubjects = subjects ?? ArtifactStore.subjects(of: manifest)
        var selections = ArtifactStore.selections(of: manifest).filter { candidate in
            selection.values.allSatisfy { candidate[$0.key] == $0.value }
        }
        // A value the manifest does not list matches nothing: resolving it as given then
        // names the valid values.
        if selections.isEmpty { selections = [selection] }
        var seen = Set<String>()
        var files: [PlannedFile] = []
        for subject in chosenSubjects {
            for candidate in selections {
                let resolved = try registry.resolve(manifest, subject: subject, selection: candidate)
                for file in try store.plan(for: manifest, subject: subject, selection: resolved)
                where seen.insert(file.cachePath ?? file.local.path).inserted {
                    files.append(file)
                }
            }
        }
        return files
    }

    /// Fetches what `modelFiles` lists and returns each file's local path, in the same order.
    public func getModel(_ id: String, subjects: [Subject]? = nil, selection: Selection = [:]) throws -> [URL] {
        try artifactStore.fetch(modelFiles(id, subjects: subjects, selection: selection))
    }

    /// Cached files by model id (files no manifest names come last, under the id "").
    public func cachedModels() -> [(modelID: String, files: [CachedFile])] {
        artifactStore.cachedFilesByModel(manifests: allManifests())
    }

    /// Re-hashes cached files against pins.json and the manifests; with an id, that model's only.
    public func verifyCache(_ id: String? = nil) throws -> [CacheVerification] {
        if let id { _ = try registry.manifest(id) }
        return try artifactStore.verify(manifests: allManifests(), modelID: id)
    }

    /// Deletes cached files: all of them, or one model's. Returns the paths removed.
    @discardableResult
    public func cleanCache(_ id: String? = nil) throws -> [String] {
        try artifactStore.clean(manifest: id.map { try registry.manifest($0) })
    }

    private func allManifests() -> [Manifest] {
        registry.listModels().compactMap { try? registry.manifest($0) }
    }
}
