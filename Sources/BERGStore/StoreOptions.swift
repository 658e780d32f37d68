import BERGCore
import Foundation

/// How an `ArtifactStore` finds and fetches files: the command line's flags and the `BERG_*`
/// environment variables end up here.
public struct StoreOptions: Sendable {
    /// `--berg-dir DIR` / `BERG_DIR`: an existing BERG download, read in place and never modified.
    public var bergDir: URL?
    /// `--artifact NAME=PATH`: a given file for one named artifact.
    public var overrides: [String: URL]
    /// `BERG_OFFLINE=1`: never touch the network.
    public var offline: Bool
    /// `BERG_MIRROR=URL`: replaces the base URL of BERG's bucket.
    public var mirror: URL?
    /// How many times a transfer is tried before giving up.
    public var maxAttempts: Int
    /// The wait before the second try, doubled before each later one (seconds).
    public var retryBaseDelay: Double
    /// Seconds allowed to open a connection.
    public var connectTimeout: Int
    /// A transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds is cut and retried.
    public var lowSpeedLimit: Int
    public var lowSpeedTime: Int
    /// Files larger than this have free disk space checked against their `Content-Length`.
    public var diskCheckThreshold: Int64
    /// The Python used for `pip` artifacts.
    public var python: String
    /// Extra `pip download` arguments (`BERG_PIP_ARGS`), such as `--no-index --find-links DIR`.
    public var pipExtraArgs: [String]
    /// Receives download progress (bytes, rate, ETA), at most a few times a second.
    public var progress: (@Sendable (DownloadProgress) -> Void)?
    /// Receives one-line notices, such as "waiting for another process".
    public var notice: (@Sendable (String) -> Void)?

    public init(bergDir: URL? = nil, overrides: [String: URL] = [:], offline: Bool = false, mirror: URL? = nil,
                maxAttempts: Int = 3, retryBaseDelay: Double = 1, connectTimeout: Int = 30,
                lowSpeedLimit: Int = 1024, lowSpeedTime: Int = 60, diskCheckThreshold: Int64 = 1 << 20,
                python: String = "python3", pipExtraArgs: [String] = [],
                progress: (@Sendable (DownloadProgress) -> Void)? = nil,
                notice: (@Sendable (String) -> Void)? = nil) {
        self.bergDir = bergDir
        self.overrides = overrides
        self.offline = offline
        self.mirror = mirror
        self.maxAttempts = max(1, maxAttempts)
        self.retryBaseDelay = retryBaseDelay
        self.connectTimeout = connectTimeout
        self.lowSpeedLimit = lowSpeedLimit
        self.lowSpeedTime = lowSpeedTime
        self.diskCheckThreshold = diskCheckThreshold
        self.python = python
        self.pipExtraArgs = pipExtraArgs
        self.progress = progress
        self.notice = notice
    }

    /// Options from `BERG_DIR`, `BERG_OFFLINE`, `BERG_MIRROR` and `BERG_PIP_ARGS`. A `BERG_DIR`
    /// that is not a folder, or a `BERG_MIRROR` that is not an http(s) URL, is an error naming
    /// the variable.
    public init(environment: [String: String]) throws {
        self.init()
        if let dir = environment["BERG_DIR"], !dir.isEmpty { bergDir = try StoreOptions.checkedBergDir(dir, name: "BERG_DIR") }
        offline = StoreOptions.isTrue(environment["BERG_OFFLINE"])
        if let mirror = environment["BERG_MIRROR"], !mirror.isEmpty {
            guard let url = URL(string: mirror), ["http", "https"].contains(url.scheme ?? "") else {
                throw BERGError.invalidArgument(name: "BERG_MIRROR", value: mirror, message: "expected an http(s) URL of a copy of BERG's bucket")
            }
            self.mirror = url
        }
        if let args = environment["BERG_PIP_ARGS"] {
            pipExtraArgs = args.split(whereSeparator: \.isWhitespace).map(String.init)
        }
    }

    /// An existing BERG download: a folder that exists, or an error saying so.
    public static func checkedBergDir(_ path: String, name: String = "BERG directory") throws -> URL {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw BERGError.invalidArgument(name: name, value: path, message: "the folder does not exist")
        }
        guard isFolder.boolValue else {
            throw BERGError.invalidArgument(name: name, value: path, message: "this is a file; expected the folder of a BERG download (the one holding encoding_models/)")
        }
        return URL(fileURLWithPath: path)
    }

    /// `BERG_OFFLINE` is set to a true value (1, true, yes, on) in `environment`.
    public static func isOffline(_ environment: [String: String]) -> Bool { isTrue(environment["BERG_OFFLINE"]) }

    static func isTrue(_ value: String?) -> Bool {
        guard let value = value?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }
}

/// One moment of a download, for a progress line.
public struct DownloadProgress: Sendable, Equatable {
    /// The file's path in the cache, relative to its root.
    public var name: String
    public var bytes: Int64
    /// Total size, when the server said.
    public var total: Int64?
    public var bytesPerSecond: Double
    /// Seconds left at the current rate, when the total is known.
    public var secondsLeft: Double? {
        guard let total, bytesPerSecond > 0, total >= bytes else { return nil }
        return Double(total - bytes) / bytesPerSecond
    }
    public var finished: Bool

    /// `name  12.3 MB / 40.0 MB  2.1 MB/s  ETA 13s`.
    public var line: String {
        var text = "\(name)  \(DownloadProgress.format(bytes: bytes))"
        if let total { text += " / \(DownloadProgress.format(bytes: total))" }
        text += "  \(DownloadProgress.format(bytes: Int64(bytesPerSecond)))/s"
        if finished { text += "  done" } else if let left = secondsLeft { text += "  ETA \(DownloadProgress.format(seconds: left))" }
        return text
    }

    public static func format(bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
    }
}
