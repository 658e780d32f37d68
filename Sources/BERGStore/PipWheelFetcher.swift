import BERGCore
import BERGRegistry
import Foundation

/// `pip` artifacts: members of a wheel on the Python package index. The wheel is fetched with
/// `python3 -m pip download --no-deps --only-binary=:all: PKG==VER -d DIR`, so the user's own
/// pip configuration chooses the index; `StoreOptions.pipExtraArgs` (`BERG_PIP_ARGS`) adds
/// arguments such as `--no-index --find-links DIR`. The wheel is checked against the
/// manifest's SHA-256 (or pinned), and the members are extracted with libarchive.
struct PipWheelFetcher {
    let store: ArtifactStore

    /// `PKG==VER` split in two; any other form is refused, since a wheel must be one exact file.
    static func parse(requirement: String, modelID: String, artifact: String) throws -> (String, String) {
        let parts = requirement.components(separatedBy: "==").map { $0.trimmingCharacters(in: .whitespaces) }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-+!"))
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
              parts.allSatisfy({ $0.unicodeScalars.allSatisfy(allowed.contains) }) else {
            throw BERGError.invalidManifest(file: modelID, keyPath: "artifacts.\(artifact).requirement",
                                            message: "'\(requirement)' must pin one version, as in img2fmri==1.0")
        }
        return (parts[0], parts[1])
    }

    /// Makes the members of one pip artifact local (they share one wheel).
    func fetch(_ files: [PlannedFile]) throws {
        guard let first = files.first, let requirement = first.remote, let rootPath = first.pipRoot else { return }
        let fileManager = FileManager.default
        guard let absent = files.first(where: { !fileManager.fileExists(atPath: $0.local.path) }) else { return }
        guard !store.options.offline else { throw store.offlineError(absent) }

        let root = store.home.appendingPathComponent(rootPath)
        try store.withFolder(root.deletingLastPathComponent()) {
            try FileLock.withLock(root.path + ".lock", onWait: { [store] in
                store.options.notice?("Waiting for another process that is fetching \(requirement)")
            }) { _ in
                let missing = files.filter { !fileManager.fileExists(atPath: $0.local.path) }
                if !missing.isEmpty { try fetchWheel(missing, requirement: requirement, rootPath: rootPath) }
            }
        }
    }

    /// Downloads the wheel into a staging folder, checks it, and moves the `missing` members
    /// into the cache.
    private func fetchWheel(_ missing: [PlannedFile], requirement: String, rootPath: String) throws {
        let fileManager = FileManager.default
        guard let first = missing.first else { return }

        let staging = store.home.appendingPathComponent("pip/.staging-\(getpid())-\(UUID().uuidString.prefix(8))")
        try store.createFolder(staging)
        defer { try? fileManager.removeItem(at: staging) }
        let wheelFolder = staging.appendingPathComponent("wheel")
        try runPip(requirement: requirement, into: wheelFolder)

        let wheels = (try? fileManager.contentsOfDirectory(atPath: wheelFolder.path))?.filter { $0.hasSuffix(".whl") } ?? []
        guard wheels.count == 1 else {
            throw BERGError.downloadFailed(url: requirement, message: "pip download left \(wheels.count) wheels (\(wheels.joined(separator: ", "))), expected exactly one")
        }
        let wheel = wheelFolder.appendingPathComponent(wheels[0])
        let wheelSHA = try FileDigest.of(wheel).sha256
        if let expected = first.sha256 {
            guard wheelSHA == expected else {
                throw BERGError.checksumMismatch(path: wheels[0], expected: "\(expected) (the manifest's SHA-256)", actual: wheelSHA)
            }
        }
        try store.pins.checkAndPin(rootPath + "/" + wheels[0], sha256: wheelSHA)

        let extracted = staging.appendingPathComponent("files")
        let written = Set(try ArchiveExtractor.extract(wheel, into: extracted, members: Set(missing.compactMap(\.member))))
        for file in missing {
            guard let member = file.member, written.contains(member), let key = file.cachePath else {
                throw BERGError.artifactMissing(name: file.artifact, message: "the wheel \(wheels[0]) has no member '\(file.member ?? "")'; check the manifest of \(file.modelID)")
            }
            let source = extracted.appendingPathComponent(member)
            try store.pins.checkAndPin(key, sha256: try FileDigest.of(source).sha256)
            try store.createFolder(file.local.deletingLastPathComponent())
            guard rename(source.path, file.local.path) == 0 else {
                throw BERGError.writeFailed(path: file.local.path, message: String(cString: strerror(errno)))
            }
        }
    }

    private func runPip(requirement: String, into folder: URL) throws {
        let options = store.options
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [options.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             "--disable-pip-version-check", "--quiet", requirement, "-d", folder.path] + options.pipExtraArgs
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        options.notice?("Fetching \(requirement) with pip")
        do { try process.run() } catch {
            throw BERGError.missingDependency("pip artifacts need \(options.python) with pip, which could not start: \(error.localizedDescription)")
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let tail = text.split(separator: "\n").suffix(6).joined(separator: " | ")
            throw BERGError.downloadFailed(url: requirement, message: "`\(options.python) -m pip download` exited with status \(process.terminationStatus): \(tail). Your pip configuration (pip.conf, PIP_INDEX_URL) or BERG_PIP_ARGS chooses the index")
        }
    }
}
