import BERGCore
import BERGRegistry
import BERGStore
import Foundation

/// Fetching a model's files ahead of time (`berg get-model`) and looking after the cache
/// (`berg cache list|verify|clean`).
extension BERG {
    /// The store this facade fetches through. A facade made with another `ArtifactResolving`
    /// has no store: then this is an error, never a store built behind the caller's back.
    public var artifactStore: ArtifactStore {
        get throws {
            guard let store = artifacts as? ArtifactStore else {
                throw BERGError.unsupported("This BERG gets model files from a \(type(of: artifacts)), not an ArtifactStore, so it has no cache to fetch into or look after; make it with BERG(home:registries:storeOptions:)")
            }
            return store
        }
    }

    /// The files a model needs for `subjects` (every subject when nil) and for every selection
    /// that agrees with `selection`: an empty selection means all the manifest allows, a
    /// partial one fills in the keys it leaves out. `options` choose the files that only some
    /// options need (img2fmri's `space=mni`). Checks the values against the manifest;
    /// touches no network. Each file is listed once.
    public func modelFiles(_ id: String, subjects: [Subject]? = nil, selection: Selection = [:],
                           options: EncodingOptions = [:]) throws -> [PlannedFile] {
        let manifest = try registry.manifest(id)
        let resolvedOptions = try registry.resolveOptions(manifest, options)
        let store = try artifactStore
        let chosenSubjects = subjects ?? manifest.subjects
        var selections = manifest.allSelections.filter { candidate in
            selection.values.allSatisfy { candidate[$0.key] == $0.value }
        }
        // A value the manifest does not list matches nothing: resolving it as given then
        // names the valid values.
        if selections.isEmpty { selections = [selection] }
        var seen = Set<String>()
        var files: [PlannedFile] = []
        for subject in chosenSubjects {
            for candidate in selections {
                var resolved = try registry.resolve(manifest, subject: subject, selection: candidate)
                for (name, value) in resolvedOptions.values where resolved[name] == nil { resolved[name] = value.description }
                for file in try store.plan(for: manifest, subject: subject, selection: resolved)
                where seen.insert(file.cachePath ?? file.local.path).inserted {
                    files.append(file)
                }
            }
        }
        return files
    }

    /// Fetches what `modelFiles` lists and returns each file's local path, in the same order.
    public func getModel(_ id: String, subjects: [Subject]? = nil, selection: Selection = [:],
                         options: EncodingOptions = [:]) throws -> [URL] {
        try fetch(modelFiles(id, subjects: subjects, selection: selection, options: options))
    }

    /// Makes planned files local (downloading what is missing) and returns where each is.
    public func fetch(_ files: [PlannedFile]) throws -> [URL] {
        try artifactStore.fetch(files)
    }

    /// A planned file's size in bytes: on disk, else the manifest's, else the server's (when
    /// online), else nil.
    public func size(of file: PlannedFile) throws -> Int64? {
        try artifactStore.size(of: file)
    }

    /// What can be known of a planned file's size, and why not where it cannot.
    public func plannedSize(of file: PlannedFile) throws -> PlannedSize {
        try artifactStore.plannedSize(of: file)
    }

    /// The cache's root folder.
    public var cacheFolder: URL {
        get throws { try artifactStore.home }
    }

    /// Cached files by model id (files no manifest names come last, under the id "").
    public func cachedModels() throws -> [(modelID: String, files: [CachedFile])] {
        try artifactStore.cachedFilesByModel(manifests: allManifests())
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

extension BERG {
    /// Fails when a name given for a file (`--artifact NAME=PATH`) is not one of the model's
    /// artifacts, listing them, so that a misspelt name is not silently ignored.
    public func checkArtifactNames(_ id: String, _ names: Set<String>) throws {
        let manifest = try registry.manifest(id)
        let known = manifest.artifacts.map(\.name)
        for name in names.sorted() where !known.contains(name) {
            throw BERGError.invalidParameter(model: id, name: "artifact", value: name,
                                             valid: known.isEmpty ? ["(none: this model needs no files)"] : known)
        }
    }
}
