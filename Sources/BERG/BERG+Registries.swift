import BERGCore
import BERGFormats
import BERGRegistry
import BERGStore
import Foundation

/// Published indexes (`berg registry add|list|remove`): a user's list of them lives in
/// `$BERG_HOME/registries.yaml`, and every facade made with that home reads their models.
extension BERG {
    /// What `addRegistry` recorded and found.
    public struct AddedRegistry: Sendable {
        public var name: String
        /// The index file's location, as recorded.
        public var location: String
        /// The ids it lists (newest version of each), and those a built-in model or a registry
        /// folder already holds (those stay hidden).
        public var modelIDs: [String]
        public var hiddenIDs: [String]
    }

    /// Records a published index under `name` in `home`'s `registries.yaml` (default
    /// `$BERG_HOME`), after fetching it and every manifest it lists (newest versions) through
    /// the store, so that a broken index is never recorded. `url` is an https URL, an http URL
    /// on a loopback address, or a local path or `file://` URL, of the index or its folder.
    @discardableResult
    public static func addRegistry(name: String, url: String, home: URL? = nil,
                                   storeOptions: StoreOptions? = nil) throws -> AddedRegistry {
        try RegistryList.checkName(name)
        let location = try IndexLocation(url)
        let home = home ?? ArtifactStore.defaultHome()
        let file = RegistryList.file(home: home)
        var list = try RegistryList.load(file)
        if let existing = list.registries.first(where: { $0.name == name }) {
            throw BERGError.invalidArgument(name: "registry name", value: name,
                                            message: "already added (\(existing.url)); remove it first with `berg registry remove \(name)`")
        }
        let store = ArtifactStore(home: home, options: try storeOptions ?? StoreOptions(environment: ProcessInfo.processInfo.environment))
        let models = try PublishedIndexReader(store: store).newestModels(in: location)
        let taken = Set(try Registry.standard().listModels())
        list.registries.append(.init(name: name, url: location.url.absoluteString))
        try createFolder(home.path)
        try AtomicFile.write(Data(try list.yamlText().utf8), to: file.path)
        let ids = models.map(\.manifest.modelID)
        return AddedRegistry(name: name, location: location.description, modelIDs: ids, hiddenIDs: ids.filter(taken.contains))
    }

    /// The published indexes recorded in `home` (default `$BERG_HOME`), in the order added.
    public static func registries(home: URL? = nil) throws -> [RegistryList.Entry] {
        try RegistryList.load(RegistryList.file(home: home ?? ArtifactStore.defaultHome())).registries
    }

    /// Forgets a recorded index (its cached copies stay until `berg cache clean`).
    public static func removeRegistry(name: String, home: URL? = nil) throws {
        let file = RegistryList.file(home: home ?? ArtifactStore.defaultHome())
        var list = try RegistryList.load(file)
        guard list.registries.contains(where: { $0.name == name }) else {
            throw BERGError.invalidArgument(name: "registry name", value: name,
                                            message: list.registries.isEmpty ? "no registries have been added" : "not added; added: \(list.registries.map(\.name).joined(separator: ", "))")
        }
        list.registries.removeAll { $0.name == name }
        try AtomicFile.write(Data(try list.yamlText().utf8), to: file.path)
    }

    /// The built-in manifests, `BERG_REGISTRY_PATH`, the manifest folders among `locations`,
    /// then the published indexes among `locations` and those recorded in the store's
    /// `registries.yaml`. A published model never replaces a built-in one or one from a folder,
    /// and of two indexes listing one id, the first wins.
    static func makeRegistry(_ locations: [URL], store: ArtifactStore?) throws -> Registry {
        var folders: [URL] = []
        var indexes: [IndexLocation] = []
        for url in locations {
            if let index = try indexLocation(url) { indexes.append(index) } else { folders.append(url) }
        }
        var registry = try Registry.standard(adding: folders)
        var named: [(IndexLocation, String?)] = indexes.map { ($0, nil) }
        if let store {
            for entry in try RegistryList.load(RegistryList.file(home: store.home)).registries {
                named.append((try IndexLocation(entry.url), entry.name))
            }
        }
        let reader = PublishedIndexReader(store: store)
        for (location, name) in named {
            for model in try reader.newestModels(in: location) {
                let source = "\(model.manifestURL.isFileURL ? model.manifestURL.path : model.manifestURL.absoluteString)\(name.map { " (registry \($0))" } ?? "")"
                registry.addIfAbsent(model.manifest, source: source)
            }
        }
        return registry
    }

    /// A published index, when `url` names one: a remote URL, a local YAML file, or a folder
    /// holding `index.yaml`. Nil for a folder of manifests.
    static func indexLocation(_ url: URL) throws -> IndexLocation? {
        guard url.isFileURL else { return try IndexLocation(url.absoluteString) }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
        if isFolder.boolValue {
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("index.yaml").path) else { return nil }
        }
        return try IndexLocation(url.path)
    }
}
