import BERGCore
import BERGRegistry
import Foundation

/// Where a model's files come from and where they live.
///
/// An artifact named by a manifest is found, in this order:
/// 1. `--artifact NAME=PATH` (`StoreOptions.overrides`): that file, for that artifact;
/// 2. `--berg-dir DIR` / `BERG_DIR`: an existing BERG download, read in place and never
///    modified (bucket paths are relative to it);
/// 3. the cache below;
/// 4. a download (never when `BERG_OFFLINE=1`; then a missing file is an error naming it).
/// A manifest SHA-256 is checked wherever the file came from.
///
/// The cache, at `BERG_HOME`, else `$XDG_CACHE_HOME/berg`, else `~/.cache/berg`:
///
///     $BERG_HOME/
///     ├── pins.json                                 path → SHA-256 of its first download
///     ├── brain-encoding-response-generator/        berg-bucket artifacts, in the bucket's own
///     │   └── encoding_models/                      layout: this folder is a valid `berg_dir`
///     │       └── modality-fmri/train_dataset-nsd/  for BERG's Python package
///     │           └── model-fwrf/encoding_models_weights/
///     │               ├── weights_sub-01_roi-V1.pt
///     │               ├── weights_sub-01_roi-V1.pt.lock     flock held while fetching
///     │               └── weights_sub-01_roi-V2.pt.part     a download in progress (resumable)
///     ├── https/                                    https artifacts, by host and URL path
///     │   └── download.pytorch.org/models/resnet18-f37072fd.pth
///     └── pip/                                      members extracted from pip wheels
///         └── img2fmri-1.0/img2fmri/models/subj1_EarlyVis_model.pkl
///
/// Every file is downloaded to `NAME.part`, verified (manifest SHA-256; torchvision's hash
/// prefix in the file name; an S3 ETag that is a plain MD5; the pin in `pins.json`), then
/// renamed into place, so a file at its final name is always whole and checked. The lock only
/// saves bandwidth: a process that cannot lock writes its own `NAME.<pid>.part` instead.
public final class ArtifactStore: ArtifactResolving, Sendable {
    /// The cache root.
    public let home: URL
    public let options: StoreOptions

    /// BERG's public bucket, and the name of its folder in the cache.
    public static let bucketName = "brain-encoding-response-generator"
    public static let bucketURL = URL(string: "https://brain-encoding-response-generator.s3.us-west-2.amazonaws.com/")!

    public init(home: URL? = nil, options: StoreOptions) {
        self.home = home ?? ArtifactStore.defaultHome()
        self.options = options
    }

    /// `BERG_HOME`, else `$XDG_CACHE_HOME/berg`, else `~/.cache/berg`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["BERG_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("berg")
        }
        let user = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return user.appendingPathComponent(".cache/berg")
    }

    /// The cache folder that mirrors BERG's bucket: a valid `berg_dir` for the Python package.
    public var bucketFolder: URL { home.appendingPathComponent(ArtifactStore.bucketName) }

    var pins: PinStore { PinStore(home: home) }

    // MARK: - ArtifactResolving

    /// Local files for everything a (subject, selection) needs, fetching what is missing.
    /// Keys are artifact names; a pip artifact with several members maps to the folder that
    /// holds them (in the wheel's layout), one with a single member to that file.
    public func localFiles(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [String: URL] {
        let plan = try plan(for: manifest, subject: subject, selection: selection)
        let urls = try fetch(plan)
        var result: [String: URL] = [:]
        var counts: [String: Int] = [:]
        for file in plan { counts[file.artifact, default: 0] += 1 }
        for (file, url) in zip(plan, urls) {
            if counts[file.artifact] == 1 || file.member == nil {
                result[file.artifact] = url
            } else {
                result[file.artifact] = file.pipRoot.map { home.appendingPathComponent($0) }
            }
        }
        return result
    }

    // MARK: - Planning

    /// The files a (subject, selection) needs, where each would come from, and whether it is
    /// already local. Touches no network.
    public func plan(for manifest: Manifest, subject: Subject, selection: Selection) throws -> [PlannedFile] {
        var files: [PlannedFile] = []
        for artifact in manifest.artifacts where artifact.applies(to: selection) {
            files += try plan(artifact, modelID: manifest.modelID, folder: manifest.sourceFolder, subject: subject, selection: selection)
        }
        return files
    }

    func plan(_ artifact: Artifact, modelID: String, folder: String?, subject: Subject, selection: Selection) throws -> [PlannedFile] {
        func expand(_ template: String) -> String { Manifest.expand(template, subject: subject, selection: selection) }
        let checksum = artifact.checksum(subject: subject, selection: selection)
        var file = PlannedFile(modelID: modelID, artifact: artifact.name, source: artifact.source, remote: nil,
                               cachePath: nil, local: URL(fileURLWithPath: "/"), member: nil, pipRoot: nil,
                               size: checksum.size, sha256: checksum.sha256?.lowercased(), origin: .cache)
        if let override = options.overrides[artifact.name] {
            file.local = override
            file.origin = .override
            return [file]
        }
        switch artifact.source {
        case .bergBucket:
            guard let template = artifact.path else { throw missingField(modelID, artifact, "path") }
            let path = try cleanRelative(expand(template), modelID: modelID, artifact: artifact)
            file.remote = (options.mirror ?? ArtifactStore.bucketURL).absoluteString.trimmingSuffix("/") + "/" + path
            if let bergDir = options.bergDir, FileManager.default.fileExists(atPath: bergDir.appendingPathComponent(path).path) {
                file.local = bergDir.appendingPathComponent(path)
                file.origin = .bergDir
                return [file]
            }
            file.cachePath = ArtifactStore.bucketName + "/" + path
            file.local = home.appendingPathComponent(ArtifactStore.bucketName + "/" + path)
        case .https:
            guard let template = artifact.url else { throw missingField(modelID, artifact, "url") }
            let address = expand(template)
            let cachePath: String
            if let url = URL(string: address), url.isFileURL {
                // A folder published without --base-url: copied into the cache like a download.
                cachePath = "file/" + (try cleanRelative(url.path, modelID: modelID, artifact: artifact))
            } else {
                guard let url = URL(string: address), let host = url.host, ["https", "http"].contains(url.scheme ?? "") else {
                    throw BERGError.invalidManifest(file: modelID, keyPath: "artifacts.\(artifact.name).url", message: "'\(address)' is not an http(s) or file URL")
                }
                cachePath = "https/" + (try cleanRelative(host + "/" + url.path, modelID: modelID, artifact: artifact))
            }
            file.remote = address
            file.cachePath = cachePath
            file.local = home.appendingPathComponent(cachePath)
        case .pip:
            guard let requirement = artifact.requirement else { throw missingField(modelID, artifact, "requirement") }
            guard let members = artifact.members, !members.isEmpty else { throw missingField(modelID, artifact, "members") }
            let (package, version) = try PipWheelFetcher.parse(requirement: requirement, modelID: modelID, artifact: artifact.name)
            let root = "pip/\(package)-\(version)"
            file.remote = requirement
            file.pipRoot = root
            return try members.map { template in
                let memberPath = try cleanRelative(expand(template), modelID: modelID, artifact: artifact)
                var member = file
                member.member = memberPath
                member.cachePath = root + "/" + memberPath
                member.local = home.appendingPathComponent(root + "/" + memberPath)
                member.origin = FileManager.default.fileExists(atPath: member.local.path) ? .cache : .download
                return member
            }
        case .local:
            let path = artifact.path.map(expand)
            if let path, let bergDir = options.bergDir, FileManager.default.fileExists(atPath: bergDir.appendingPathComponent(path).path) {
                file.local = bergDir.appendingPathComponent(path)
                file.origin = .bergDir
                return [file]
            }
            // A relative path is relative to the manifest's folder (a model package).
            if let path, !path.hasPrefix("/"), let folder {
                let url = URL(fileURLWithPath: folder).appendingPathComponent(path)
                if FileManager.default.fileExists(atPath: url.path) {
                    file.local = url
                    file.origin = .override
                    return [file]
                }
            }
            if let path, path.hasPrefix("/"), FileManager.default.fileExists(atPath: path) {
                file.local = URL(fileURLWithPath: path)
                file.origin = .override
                return [file]
            }
            throw BERGError.artifactMissing(name: artifact.name, message: "model \(modelID) needs this file from you, given for artifact '\(artifact.name)'\(path.map { " (its usual name is \($0))" } ?? "")")
        }
        file.origin = FileManager.default.fileExists(atPath: file.local.path) ? .cache : .download
        return [file]
    }

    private func missingField(_ modelID: String, _ artifact: Artifact, _ field: String) -> BERGError {
        .invalidManifest(file: modelID, keyPath: "artifacts.\(artifact.name).\(field)", message: "a \(artifact.source.rawValue) artifact needs '\(field)'")
    }

    /// A manifest path as a relative path that cannot climb out of the cache.
    private func cleanRelative(_ path: String, modelID: String, artifact: Artifact) throws -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !parts.isEmpty, !parts.contains(".."), !path.contains("{") else {
            throw BERGError.invalidManifest(file: modelID, keyPath: "artifacts.\(artifact.name)",
                                            message: "'\(path)' is not a usable relative path (empty, '..' or an unfilled {placeholder})")
        }
        return parts.joined(separator: "/")
    }

    // MARK: - Fetching

    /// Makes every planned file local, in order, and returns where each is.
    public func fetch(_ plan: [PlannedFile]) throws -> [URL] {
        var wheelsDone = Set<String>()
        for file in plan {
            switch file.origin {
            case .override, .bergDir:
                try checkProvided(file)
            case .cache, .download:
                if file.source == .pip {
                    // The members of one pip artifact come out of one wheel, fetched once.
                    let key = "\(file.modelID)/\(file.artifact)/\(file.remote ?? "")"
                    guard wheelsDone.insert(key).inserted else { continue }
                    try PipWheelFetcher(store: self).fetch(plan.filter { "\($0.modelID)/\($0.artifact)/\($0.remote ?? "")" == key })
                } else {
                    try fetchRemote(file)
                }
            }
        }
        return plan.map(\.local)
    }

    /// A planned file's size in bytes, when it can be known (`plannedSize(of:)`).
    public func size(of file: PlannedFile) -> Int64? {
        if case .bytes(let bytes) = plannedSize(of: file) { return bytes }
        return nil
    }

    /// What can be known of a planned file's size: its size on disk when it is local; else the
    /// manifest's; else what the server answers to a HEAD request, which is never asked when
    /// offline. A member of a pip wheel has no size of its own until the wheel is unpacked:
    /// the wheel's size (from the manifest) is what is downloaded, once for all its members.
    public func plannedSize(of file: PlannedFile) -> PlannedSize {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: file.local.path),
           let size = attributes[.size] as? NSNumber {
            return .bytes(size.int64Value)
        }
        if file.source == .pip {
            return .inWheel(requirement: file.remote ?? file.artifact, wheelBytes: file.size.map(Int64.init))
        }
        if let size = file.size { return .bytes(Int64(size)) }
        guard let remote = file.remote else { return .unknown(reason: "the manifest gives no size and no address") }
        guard !options.offline else { return .notAskedOffline }
        if let bytes = HTTPTransfer.contentLength(of: remote, options: options) { return .bytes(bytes) }
        return .unknown(reason: "the server did not say (no answer, or no Content-Length)")
    }

    /// A user-given file: it must exist, and match the manifest's SHA-256 where there is one.
    private func checkProvided(_ file: PlannedFile) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.local.path, isDirectory: &isFolder) else {
            throw BERGError.fileNotFound(path: file.local.path, hint: "given for artifact '\(file.artifact)' of \(file.modelID)")
        }
        // A pip artifact's checksum is its wheel's; a folder of unpacked members has none to compare.
        if let expected = file.sha256, !(file.source == .pip && isFolder.boolValue) {
            let actual = try FileDigest.of(file.local).sha256
            guard actual == expected else { throw BERGError.checksumMismatch(path: file.local.path, expected: expected, actual: actual) }
        }
    }

    /// The offline error for a file that is not local.
    func offlineError(_ file: PlannedFile) -> BERGError {
        let cache = "in the cache at \(home.path)"
        let places = file.source == .bergBucket ? options.bergDir.map { "neither in \($0.path) nor \(cache)" } : nil
        return .artifactMissing(name: file.artifact, message: "downloads are off (BERG_OFFLINE, or a command that reads only local files, such as a benchmark) and \(file.cachePath ?? file.local.path) is \(places ?? "not " + cache); fetch it on a connected machine and copy the cache")
    }

    /// Downloads a berg-bucket or https file into the cache, once, verified.
    func fetchRemote(_ file: PlannedFile) throws {
        let final = file.local
        if FileManager.default.fileExists(atPath: final.path) { return }
        guard !options.offline else { throw offlineError(file) }
        guard let remote = file.remote, let key = file.cachePath else { throw offlineError(file) }
        try withFolder(final.deletingLastPathComponent()) {
            try FileLock.withLock(final.path + ".lock", onWait: { [options] in
                options.notice?("Waiting for another process that is downloading \(key) (lock \(final.lastPathComponent).lock)")
            }) { locked in
                if FileManager.default.fileExists(atPath: final.path) { return } // the other process finished it
                let part = URL(fileURLWithPath: final.path + (locked ? ".part" : ".\(getpid()).part"))
                let etag = try transfer(remote, into: part, name: key)
                try verifyDownload(part, file: file, key: key, etag: etag)
                guard rename(part.path, final.path) == 0 else {
                    let reason = String(cString: strerror(errno))
                    unlink(part.path)
                    throw BERGError.writeFailed(path: final.path, message: reason)
                }
            }
        }
    }

    /// Runs `body` with `folder` created (and its missing parents); if `body` fails, the
    /// folders this call created are removed again where they are empty, so that a failed
    /// fetch leaves no empty folders in the cache (a partial download, kept to resume, keeps
    /// its folder).
    func withFolder<T>(_ folder: URL, _ body: () throws -> T) throws -> T {
        var missing: [URL] = []
        var next = folder.standardizedFileURL
        while !FileManager.default.fileExists(atPath: next.path), next.path != "/" {
            missing.append(next)
            next = next.deletingLastPathComponent()
        }
        try createFolder(folder)
        do {
            return try body()
        } catch {
            for created in missing { rmdir(created.path) }  // deepest first; fails on non-empty ones
            throw error
        }
    }

    /// Fetches `remote` into `part`: over HTTP(S) with resume and retries, or a copy of a
    /// `file://` URL. Returns the server's ETag, if any.
    func transfer(_ remote: String, into part: URL, name: String) throws -> String? {
        guard let url = URL(string: remote), url.isFileURL else {
            return try ResumableDownload(options: options).run(url: remote, into: part, name: name).etag
        }
        unlink(part.path)
        do { try FileManager.default.copyItem(at: url, to: part) } catch {
            unlink(part.path)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw BERGError.downloadFailed(url: remote, message: "no such file")
            }
            throw BERGError.downloadFailed(url: remote, message: error.localizedDescription)
        }
        return nil
    }

    /// Checks a finished download before it may take its final name; a file that fails is deleted.
    func verifyDownload(_ part: URL, file: PlannedFile, key: String, etag: String?) throws {
        let s3 = file.source == .bergBucket || (file.remote.flatMap { URL(string: $0)?.host }?.hasSuffix(".amazonaws.com") ?? false)
        let etagMD5 = s3 ? FileDigest.plainMD5(fromETag: etag) : nil
        do {
            let digest = try FileDigest.of(part, md5: etagMD5 != nil)
            if let expected = file.sha256 {
                guard digest.sha256 == expected else {
                    throw BERGError.checksumMismatch(path: key, expected: "\(expected) (the manifest's SHA-256)", actual: digest.sha256)
                }
            } else if file.source == .https, let prefix = FileDigest.torchvisionPrefix(inFileName: file.local.lastPathComponent) {
                guard digest.sha256.hasPrefix(prefix) else {
                    throw BERGError.checksumMismatch(path: key, expected: "a SHA-256 starting \(prefix) (from the file name)", actual: digest.sha256)
                }
            }
            if let expectedMD5 = etagMD5, let md5 = digest.md5, md5 != expectedMD5 {
                throw BERGError.checksumMismatch(path: key, expected: "MD5 \(expectedMD5) (the server's ETag)", actual: "MD5 \(md5); the download was corrupted and has been deleted, run again to fetch it anew")
            }
            try pins.checkAndPin(key, sha256: digest.sha256)
        } catch {
            unlink(part.path)
            throw error
        }
    }

    func createFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw BERGError.writeFailed(path: url.path, message: "cannot create the folder: \(error.localizedDescription). Set BERG_HOME to a writable folder")
        }
    }
}

/// What is known of a file's size before it is fetched.
public enum PlannedSize: Sendable, Equatable, CustomStringConvertible {
    /// The exact size: on disk, from the manifest, or from the server.
    case bytes(Int64)
    /// A member of a pip wheel, which is downloaded whole, once for all its members.
    case inWheel(requirement: String, wheelBytes: Int64?)
    /// Offline, so the server was not asked. Files of BERG's bucket differ in size per subject
    /// and ROI, and manifests do not list each one; the server gives the size when online.
    case notAskedOffline
    /// Not known, and why.
    case unknown(reason: String)

    public var bytes: Int64? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    /// The bytes that fetching the files would download (those whose origin is `.download`),
    /// counting each pip wheel once, and how many of them have no known size.
    public static func download(_ files: [(file: PlannedFile, size: PlannedSize)]) -> (bytes: Int64, unknown: Int) {
        var bytes: Int64 = 0, unknown = 0
        var wheels = Set<String>()
        for (file, size) in files where file.origin == .download {
            switch size {
            case .bytes(let size): bytes += size
            case .inWheel(let requirement, let wheelBytes):
                guard wheels.insert(requirement).inserted else { continue }
                if let wheelBytes { bytes += wheelBytes } else { unknown += 1 }
            case .notAskedOffline, .unknown: unknown += 1
            }
        }
        return (bytes, unknown)
    }

    public var description: String {
        switch self {
        case .bytes(let bytes): return DownloadProgress.format(bytes: bytes)
        case .inWheel(let requirement, let wheelBytes):
            return "in the \(requirement) wheel" + (wheelBytes.map { " (\(DownloadProgress.format(bytes: $0)), fetched once)" } ?? "")
        case .notAskedOffline: return "size not known offline (the server says it when online)"
        case .unknown(let reason): return "size unknown: \(reason)"
        }
    }
}

/// One file a model needs, where it will come from, and where it is or will be.
public struct PlannedFile: Sendable, Equatable {
    public enum Origin: String, Sendable, Equatable {
        /// `--artifact NAME=PATH` (or an absolute path in a `local` artifact).
        case override
        /// Found in `--berg-dir` / `BERG_DIR`.
        case bergDir
        /// Already in the cache.
        case cache
        /// To be downloaded into the cache.
        case download
    }
    public var modelID: String
    /// The manifest's artifact name.
    public var artifact: String
    public var source: Artifact.Source
    /// The URL (berg-bucket, https) or requirement (pip) it comes from.
    public var remote: String?
    /// Its path relative to the cache root, for cached files.
    public var cachePath: String?
    /// Where the file is, or will be once fetched.
    public var local: URL
    /// pip: the member's path inside the wheel.
    public var member: String?
    /// pip: the cache folder that holds the wheel's members.
    var pipRoot: String?
    /// The manifest's size in bytes, when it gives one.
    public var size: Int?
    public var sha256: String?
    public var origin: Origin
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = self
        while s.hasSuffix(suffix) { s.removeLast(suffix.count) }
        return s
    }
}
