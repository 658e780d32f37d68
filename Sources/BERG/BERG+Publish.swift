import BERGCore
import BERGFormats
import BERGRegistry
import BERGStore
import Foundation

/// One `berg publish` run: a model package (a folder holding `manifest.yaml` and the files
/// its `local` artifacts name), and where to publish it.
public struct PublishJob: Sendable {
    /// The package: `manifest.yaml` plus its files, paths relative to the folder.
    public var modelDirectory: String
    /// The published folder (created when missing): `<model_id>/<version>/` and `index.yaml`.
    public var destination: String
    /// Where the folder will be served from (`https://lab.org/berg`); default: its `file://` URL.
    public var baseURL: String?
    /// Images to check the model with (as `berg encode --input` takes them); default: the
    /// retinotopy stimuli and the procedural test images (`BERG.checkStimuli()`).
    public var checkInput: String?
    /// Check every subject and selection, not only the first of each.
    public var allSubjects: Bool

    public init(modelDirectory: String, destination: String, baseURL: String? = nil, checkInput: String? = nil,
                allSubjects: Bool = false) {
        self.modelDirectory = modelDirectory
        self.destination = destination
        self.baseURL = baseURL
        self.checkInput = checkInput
        self.allSubjects = allSubjects
    }
}

/// What `publish` did.
public struct PublishSummary: Sendable {
    public var modelID: String
    public var version: String
    /// `DEST/<model_id>/<version>/`.
    public var folder: URL
    /// The published manifest's address under the base URL.
    public var manifestURL: String
    /// The index's address under the base URL (what `berg registry add` takes).
    public var indexURL: String
    /// True when this version was already published with the same bytes (nothing changed).
    public var unchanged: Bool
    /// The version's files (relative to `folder`), with their sizes and SHA-256.
    public var files: [(name: String, size: Int, sha256: String)]
    public var check: CheckResponses
    /// Problems that did not stop the publication (the web pages).
    public var warnings: [String]
}

extension BERG {
    /// The largest relative difference `verify` accepts.
    public static let verifyTolerance = 1e-4
    /// Files `berg publish` writes into a version's folder for the site, which are not part
    /// of the version (refreshed at each publish).
    static let sitePageNames: Set<String> = ["index.html", "retinotopy.png", "voxel_counts.png"]
    /// The name of the check artifact in a published manifest.
    public static let checkArtifactName = "check_responses"

    /// Publishes a model package (`berg publish`):
    /// 1. validates its manifest as `berg registry check` does, and refuses an id a built-in
    ///    model has;
    /// 2. loads the model through the normal loader and encodes the check stimuli, for the
    ///    first subject and selection or, with `allSubjects`, for each;
    /// 3. copies every `local` artifact (each file of a templated one) to
    ///    `DEST/<model_id>/<version>/`, with the check as `check_responses.h5`;
    /// 4. writes the published `manifest.yaml` there: those artifacts become `https` sources
    ///    under the base URL, each with `sha256` and `size` (a templated one with `files`);
    /// 5. renders `card.md` beside it, with the check's summary;
    /// 6. adds the version to `DEST/index.yaml` (written atomically), and refreshes the web
    ///    pages `DEST/index.html` and `DEST/<id>/<version>/index.html` (`writeSite`).
    /// A published version never changes: the same version with other bytes is refused
    /// (naming the first file that differs), the same bytes again change nothing. Nothing
    /// half-written is left behind.
    public func publish(_ job: PublishJob, progress: ProgressReporter? = nil) throws -> PublishSummary {
        let package = URL(fileURLWithPath: job.modelDirectory).standardizedFileURL
        let manifestFile = package.appendingPathComponent("manifest.yaml")
        guard FileManager.default.fileExists(atPath: manifestFile.path) else {
            throw BERGError.fileNotFound(path: manifestFile.path, hint: "A model package is a folder holding manifest.yaml and the files its local artifacts name (berg fit writes one to OUT/model/)")
        }
        let manifest = try ManifestLoader.load(contentsOf: manifestFile)
        try checkManifest(manifest)
        try BERG.checkPublishable(manifest, file: manifestFile.path)
        let destination = URL(fileURLWithPath: job.destination).standardizedFileURL
        let base = try BERG.publishedBase(job.baseURL, destination: destination)

        let folder = destination.appendingPathComponent(manifest.modelID).appendingPathComponent(manifest.version)
        if FileManager.default.fileExists(atPath: folder.path) {
            try checkPackageFilesUnchanged(manifest, package: package, folder: folder)
        }

        // 2. The check, through the normal loader, with the package beside the built-in models.
        var packageRegistry = try Registry(directories: [])
        packageRegistry.add(manifest, source: manifestFile.path)
        let loader = BERG(registry: packageRegistry, artifacts: artifacts, kinds: kinds)
        let stimuli = try job.checkInput.map { try loadStimuli($0) } ?? [try BERG.checkStimuli()]
        let targets = job.allSubjects
            ? manifest.subjects.flatMap { subject in manifest.allSelections.map { (subject, $0) } }
            : [(manifest.subjects.first ?? Subject(1), manifest.allSelections.first ?? Selection())]
        var checks: [CheckResponses.Check] = []
        for (subject, selection) in targets {
            let model = try loader.getEncodingModel(manifest.modelID, subject: subject, selection: selection)
            let result = try loader.encode(model, stimuli, progress: progress)
            checks.append(.init(subject: subject, selection: selection, responses: result.responses))
        }
        let check = CheckResponses(modelID: manifest.modelID, version: manifest.version, stimuli: stimuli, checks: checks)

        // 3–5. Everything staged in a folder beside the final one, then renamed into place.
        try createFolder(destination.path)
        let stage = destination.appendingPathComponent(".publishing-\(manifest.modelID)-\(manifest.version)-\(getpid())")
        try? FileManager.default.removeItem(at: stage)
        defer { try? FileManager.default.removeItem(at: stage) }
        try createFolder(stage.path)
        let versionBase = "\(base)/\(BERG.urlPath(manifest.modelID))/\(BERG.urlPath(manifest.version))/"
        var published = manifest
        published.artifacts = try manifest.artifacts.map {
            try publishedArtifact($0, of: manifest, package: package, stage: stage, versionBase: versionBase)
        }
        let checkFile = stage.appendingPathComponent("check_responses.h5")
        try check.write(to: checkFile.path)
        var checkArtifact = Artifact(name: BERG.checkArtifactName, source: .https, url: versionBase + "check_responses.h5",
                                     description: "berg verify's check: the stimuli, their SHA-256 and the responses recorded when this version was published")
        let checkChecksum = try BERG.checksum(of: checkFile)
        (checkArtifact.sha256, checkArtifact.size) = (checkChecksum.sha256, checkChecksum.size)
        published.artifacts.append(checkArtifact)
        for candidate in [package.appendingPathComponent("accuracy.png"), package.deletingLastPathComponent().appendingPathComponent("accuracy.png")]
        where FileManager.default.fileExists(atPath: candidate.path) {
            try BERG.copy(candidate, to: stage.appendingPathComponent("accuracy.png"))
            break
        }
        let manifestText = try published.orderedYAMLText()
        try AtomicFile.write(Data(manifestText.utf8), to: stage.appendingPathComponent("manifest.yaml").path)
        // What a reader of the index will get must load.
        _ = try ManifestLoader.load(contentsOf: stage.appendingPathComponent("manifest.yaml"))
        try AtomicFile.write(Data(BERG.publishedCard(published, check: check).utf8), to: stage.appendingPathComponent("card.md").path)

        // 6. Into place, then the index, one publisher at a time.
        let unchanged = try FileLock.withLock(destination.appendingPathComponent(".publish.lock").path) { _ in
            let unchanged = FileManager.default.fileExists(atPath: folder.path)
            if unchanged {
                try BERG.checkSameBytes(stage, folder, id: manifest.modelID, version: manifest.version)
            } else {
                try createFolder(folder.deletingLastPathComponent().path)
                guard rename(stage.path, folder.path) == 0 else {
                    throw BERGError.writeFailed(path: folder.path, message: String(cString: strerror(errno)))
                }
            }
            try BERG.addToIndex(PublishedIndex.Entry(modelID: manifest.modelID, version: manifest.version,
                                                     manifest: "\(manifest.modelID)/\(manifest.version)/manifest.yaml",
                                                     sha256: try SHA256Hex.of(file: folder.appendingPathComponent("manifest.yaml"))),
                                in: destination)
            return unchanged
        }
        var summary = PublishSummary(modelID: manifest.modelID, version: manifest.version, folder: folder,
                                     manifestURL: versionBase + "manifest.yaml", indexURL: base + "/index.yaml", unchanged: unchanged,
                                     files: try BERG.versionFiles(folder).filter { !BERG.sitePageNames.contains($0.name) },
                                     check: check, warnings: [])
        // The pages are not part of the version: a failure here leaves the version published.
        do { try refreshPublishedSite(destination, base: base) } catch {
            summary.warnings.append("the version is published, but its web pages could not be refreshed: \(error.localizedDescription)")
        }
        return summary
    }

    // MARK: - Steps

    /// An id free of the built-in ones, a version usable as a folder name, no artifact under
    /// the check's reserved name.
    static func checkPublishable(_ manifest: Manifest, file: String) throws {
        if try Registry.builtinManifests().contains(where: { $0.modelID == manifest.modelID }) {
            throw BERGError.invalidManifest(file: file, keyPath: "model_id",
                                            message: "'\(manifest.modelID)' is the id of a built-in model; publish under another id (`berg list` shows the built-in ones)")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
        guard !manifest.version.isEmpty, manifest.version.allSatisfy(allowed.contains), manifest.version != ".", manifest.version != ".." else {
            throw BERGError.invalidManifest(file: file, keyPath: "version",
                                            message: "'\(manifest.version)' cannot name a folder; use letters, digits, '.', '_', '+' and '-' (such as 1.0)")
        }
        if manifest.artifacts.contains(where: { $0.name == checkArtifactName }) {
            throw BERGError.invalidManifest(file: file, keyPath: "artifacts",
                                            message: "'\(checkArtifactName)' is the name `berg publish` gives the check it writes; rename that artifact")
        }
    }

    /// The base URL, without a trailing slash: `--base-url`, else DEST's `file://` URL.
    static func publishedBase(_ given: String?, destination: URL) throws -> String {
        guard let given else { return URL(fileURLWithPath: destination.path).absoluteString.trimmingSuffixSlashes }
        guard let url = URL(string: given), let scheme = url.scheme?.lowercased(), ["https", "http", "file"].contains(scheme),
              scheme == "file" || !(url.host ?? "").isEmpty else {
            throw BERGError.invalidArgument(name: "base URL", value: given, message: "expected the https URL the published folder will be served from")
        }
        if scheme == "http", !IndexLocation.isLoopback(url.host ?? "") {
            throw BERGError.invalidArgument(name: "base URL", value: given, message: "plain http is refused except on a loopback address (127.0.0.1, ::1, localhost); serve the folder over https")
        }
        return given.trimmingSuffixSlashes
    }

    /// A package's artifact as published: a `local` one's files copied into the stage and the
    /// artifact pointed at them; others kept, with their checksum added when the file is at hand.
    private func publishedArtifact(_ artifact: Artifact, of manifest: Manifest, package: URL, stage: URL,
                                   versionBase: String) throws -> Artifact {
        var published = artifact
        guard artifact.source == .local else {
            if published.sha256 == nil, published.files == nil, !artifact.isTemplate, artifact.source != .pip,
               let store = try? artifactStore,
               let file = try? store.plan(for: BERG.only(artifact, of: manifest), subject: manifest.subjects.first ?? Subject(1),
                                          selection: Selection()).first,
               FileManager.default.fileExists(atPath: file.local.path) {
                let checksum = try BERG.checksum(of: file.local)
                (published.sha256, published.size) = (checksum.sha256, checksum.size)
            }
            return published
        }
        guard let template = artifact.path else {
            throw BERGError.invalidManifest(file: package.appendingPathComponent("manifest.yaml").path, keyPath: "artifacts.\(artifact.name).path",
                                            message: "a package's local artifact names its file with a path relative to the folder")
        }
        let url = versionBase + BERG.urlPath(BERG.publishedTemplate(template))
        var files: [String: FileChecksum] = [:]
        for file in try packageFiles(artifact, of: manifest, package: package) {
            let source = file.source
            guard !FileManager.default.fileExists(atPath: stage.appendingPathComponent(file.relative).path) else {
                throw BERGError.invalidManifest(file: package.appendingPathComponent("manifest.yaml").path, keyPath: "artifacts.\(artifact.name).path",
                                                message: "two artifacts would both be published as '\(file.relative)'; give the files different names")
            }
            try BERG.copy(source, to: stage.appendingPathComponent(file.relative))
            let checksum = try BERG.checksum(of: source)
            if let expected = artifact.sha256, !artifact.isTemplate, expected.lowercased() != checksum.sha256 {
                throw BERGError.checksumMismatch(path: source.path, expected: "\(expected) (the package manifest's SHA-256)", actual: checksum.sha256)
            }
            files[Artifact.fileKey(template: url, subject: file.subject, selection: file.selection)] = checksum
        }
        published.source = .https
        published.path = nil
        published.url = url
        if artifact.isTemplate {
            published.files = files
            published.sha256 = nil
            published.size = nil
        } else if let only = files.values.first {
            published.sha256 = only.sha256
            published.size = only.size
        }
        return published
    }

    /// Where a `local` artifact's files go in the published version: the path relative to the
    /// package, or for a file named by an absolute path (`berg fit` names a backbone given with
    /// `--weights` so), its file name.
    static func publishedTemplate(_ template: String) -> String {
        template.hasPrefix("/") ? (template as NSString).lastPathComponent : template
    }

    /// The files a `local` artifact of a package names, for every subject and selection it
    /// applies to, each once, checked to be present and (unless named by an absolute path)
    /// inside the package: where each is now, and its path in the published version.
    private func packageFiles(_ artifact: Artifact, of manifest: Manifest, package: URL)
        throws -> [(source: URL, relative: String, subject: Subject, selection: Selection)] {
        guard artifact.source == .local, let template = artifact.path else { return [] }
        let manifestFile = package.appendingPathComponent("manifest.yaml").path
        let absolute = template.hasPrefix("/")
        if absolute, (template as NSString).deletingLastPathComponent.contains("{") {
            throw BERGError.invalidManifest(file: manifestFile, keyPath: "artifacts.\(artifact.name).path",
                                            message: "'\(template)' has placeholders in its folder; put the files in the package folder and name them by relative paths")
        }
        var files: [(source: URL, relative: String, subject: Subject, selection: Selection)] = []
        var seen = Set<String>()
        for subject in manifest.subjects {
            for selection in manifest.allSelections where artifact.applies(to: selection) {
                let resolved = (try? registry.resolve(manifest, subject: subject, selection: selection)) ?? selection
                let path = Manifest.expand(template, subject: subject, selection: resolved)
                let relative = Manifest.expand(BERG.publishedTemplate(template), subject: subject, selection: resolved)
                guard !relative.contains("{"), seen.insert(relative).inserted else { continue }
                guard PublishedIndex.isPlainRelativePath(relative) else {
                    throw BERGError.invalidManifest(file: manifestFile, keyPath: "artifacts.\(artifact.name).path",
                                                    message: "'\(relative)' must be a path inside the package folder, without '..'")
                }
                let source = absolute ? URL(fileURLWithPath: path) : package.appendingPathComponent(relative)
                guard FileManager.default.fileExists(atPath: source.path) else {
                    throw BERGError.fileNotFound(path: source.path,
                                                 hint: "artifact '\(artifact.name)' of \(manifest.modelID) names it for subject \(subject) \(resolved); a package holds every file its manifest names")
                }
                files.append((source, relative, subject, resolved))
            }
        }
        return files
    }

    /// Before any work, a package's files against those of a version already published.
    private func checkPackageFilesUnchanged(_ manifest: Manifest, package: URL, folder: URL) throws {
        for artifact in manifest.artifacts {
            for file in try packageFiles(artifact, of: manifest, package: package) {
                let published = folder.appendingPathComponent(file.relative)
                guard FileManager.default.contentsEqual(atPath: file.source.path, andPath: published.path) else {
                    throw BERG.changedVersion(path: published.path, name: file.relative, id: manifest.modelID, version: manifest.version,
                                              change: FileManager.default.fileExists(atPath: published.path) ? "change" : "be added")
                }
            }
        }
    }

    static func changedVersion(path: String, name: String, id: String, version: String, change: String) -> BERGError {
        .unexpectedContent(path: path, message: "\(id) version \(version) is already published, and \(name) would \(change). A published version never changes: give the package a new version in manifest.yaml and publish that")
    }

    static func only(_ artifact: Artifact, of manifest: Manifest) -> Manifest {
        var reduced = manifest
        reduced.artifacts = [artifact]
        return reduced
    }

    /// The published card: the manifest's card, then the check's summary.
    static func publishedCard(_ manifest: Manifest, check: CheckResponses) -> String {
        var card = CardRenderer.render(manifest)
        if let firstLine = card.firstIndex(of: "\n") {
            card.replaceSubrange(card.startIndex..<firstLine, with: "<!-- Rendered from manifest.yaml by `berg publish`. Do not edit by hand. -->")
        }
        return card + "\n" + check.summaryMarkdown() + "\n"
    }

    /// Refuses a republished version whose files differ from the published ones (the pages
    /// `berg publish` refreshes are not part of a version).
    static func checkSameBytes(_ stage: URL, _ folder: URL, id: String, version: String) throws {
        let staged = try relativeFiles(in: stage), existing = try relativeFiles(in: folder).filter { !BERG.sitePageNames.contains($0) }
        for name in Set(staged).union(existing).sorted() {
            let a = stage.appendingPathComponent(name).path, b = folder.appendingPathComponent(name).path
            guard staged.contains(name), existing.contains(name), FileManager.default.contentsEqual(atPath: a, andPath: b) else {
                throw changedVersion(path: b, name: name, id: id, version: version,
                                     change: existing.contains(name) ? (staged.contains(name) ? "change" : "disappear") : "be added")
            }
        }
    }

    /// Adds (or confirms) an entry in `DEST/index.yaml`, written atomically.
    static func addToIndex(_ entry: PublishedIndex.Entry, in destination: URL) throws {
        let file = destination.appendingPathComponent("index.yaml")
        var index = PublishedIndex()
        if let data = FileManager.default.contents(atPath: file.path) {
            index = try PublishedIndex.load(yaml: String(decoding: data, as: UTF8.self), file: file.path)
        }
        if index.models.contains(entry) { return }
        index.models.removeAll { $0.modelID == entry.modelID && $0.version == entry.version }
        index.models.append(entry)
        try AtomicFile.write(Data(try index.yamlText().utf8), to: file.path)
    }

    /// Regular files under `folder`, as sorted relative paths.
    static func relativeFiles(in folder: URL) throws -> [String] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        let root = folder.resolvingSymlinksInPath().path
        var names: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let path = url.resolvingSymlinksInPath().path
            names.append(String(path.dropFirst(root.count + 1)))
        }
        return names.sorted()
    }

    static func versionFiles(_ folder: URL) throws -> [(name: String, size: Int, sha256: String)] {
        try relativeFiles(in: folder).map { name in
            let checksum = try BERG.checksum(of: folder.appendingPathComponent(name))
            return (name, checksum.size, checksum.sha256)
        }
    }

    static func checksum(of file: URL) throws -> FileChecksum {
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
        return FileChecksum(sha256: try SHA256Hex.of(file: file), size: size)
    }

    static func copy(_ source: URL, to target: URL) throws {
        do {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: source, to: target)
        } catch {
            throw BERGError.writeFailed(path: target.path, message: "cannot copy \(source.path): \(error.localizedDescription)")
        }
    }

    /// A path for a URL: each part percent-encoded, `{placeholders}` kept.
    static func urlPath(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.insert(charactersIn: "{}")
        allowed.remove(charactersIn: "?#;")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }
}

extension String {
    var trimmingSuffixSlashes: String {
        var s = self
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
