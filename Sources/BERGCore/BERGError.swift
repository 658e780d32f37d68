import Foundation

/// Every failure BERG reports. Each message says what was wrong, what was expected and,
/// where there is one, the way out.
public enum BERGError: Error, Sendable, Equatable {
    /// A model id that no registry holds.
    case unknownModel(id: String, known: [String])
    /// A parameter value outside the manifest's valid values (subject, ROI, device, ...).
    case invalidParameter(model: String, name: String, value: String, valid: [String])
    /// A setting outside any model (a folder, a thread count, an environment variable) that
    /// cannot be used: what it is, its value, and why.
    case invalidArgument(name: String, value: String, message: String)
    /// A selection key the model does not take, or a required one left out.
    case invalidSelection(model: String, message: String)
    /// A manifest that fails validation: file, key path, and what was expected.
    case invalidManifest(file: String, keyPath: String, message: String)
    /// Stimulus or tensor shapes that do not fit.
    case shapeMismatch(what: String, expected: [Int], actual: [Int])
    /// An input the user gave that cannot be used, with how to fix it.
    case invalidInput(String)
    /// A file that cannot be read or parsed: path, byte offset where known, and the problem.
    case corruptFile(path: String, offset: Int?, message: String)
    /// A file that does not exist or cannot be opened.
    case fileNotFound(path: String, hint: String?)
    /// A file that could not be written.
    case writeFailed(path: String, message: String)
    /// A file of a known format holding something other than the model expects.
    case unexpectedContent(path: String, message: String)
    /// A limit that protects against hostile files (depth, size, count).
    case limitExceeded(what: String, limit: Int, actual: Int)
    /// A network transfer that failed after its retries.
    case downloadFailed(url: String, message: String)
    /// Bytes whose hash differs from the one expected.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// An artifact that is not available locally while offline or without a source.
    case artifactMissing(name: String, message: String)
    /// A feature this build does not have (for example a CUDA backend).
    case unsupported(String)
    /// A missing system library or tool.
    case missingDependency(String)
}

extension BERGError: LocalizedError, CustomStringConvertible {
    public var description: String { message }
    public var errorDescription: String? { message }

    /// One line, suitable after `error: `.
    public var message: String {
        switch self {
        case let .unknownModel(id, known):
            return "Unknown model '\(id)'. Known models: \(known.joined(separator: ", "))"
        case let .invalidParameter(model, name, value, valid):
            let what = BERGError.displayName(name)
            let validName = what.contains(" ") ? "values" : "\(what)s"
            return "Invalid \(what) '\(value)' for \(model). Valid \(validName): \(valid.joined(separator: ", "))"
        case let .invalidArgument(name, value, message):
            return "\(name) '\(value)': \(message)"
        case let .invalidSelection(model, message):
            return "Invalid selection for \(model): \(message)"
        case let .invalidManifest(file, keyPath, message):
            return "\(file): \(keyPath.isEmpty ? "" : "at '\(keyPath)': ")\(message)"
        case let .shapeMismatch(what, expected, actual):
            return "\(what): expected shape \(expected), got \(actual)"
        case let .invalidInput(message):
            return message
        case let .corruptFile(path, offset, message):
            return "\(path)\(offset.map { " (byte \($0))" } ?? ""): \(message)"
        case let .fileNotFound(path, hint):
            return "No such file: \(path)\(hint.map { ". \($0)" } ?? "")"
        case let .writeFailed(path, message):
            return "Cannot write \(path): \(message)"
        case let .unexpectedContent(path, message):
            return "\(path): \(message)"
        case let .limitExceeded(what, limit, actual):
            return "\(what) is \(actual), over the limit of \(limit); the file is corrupt or hostile"
        case let .downloadFailed(url, message):
            return "Download of \(url) failed: \(message)"
        case let .checksumMismatch(path, expected, actual):
            return "\(path): checksum mismatch, expected \(expected), got \(actual)"
        case let .artifactMissing(name, message):
            return "Artifact '\(name)' is not available: \(message)"
        case let .unsupported(message):
            return message
        case let .missingDependency(message):
            return message
        }
    }

    /// True for errors the user caused by what they typed (exit status 2 on the command line).
    public var isUsageError: Bool {
        switch self {
        case .unknownModel, .invalidParameter, .invalidArgument, .invalidSelection: return true
        default: return false
        }
    }

    private static func displayName(_ parameter: String) -> String {
        switch parameter.lowercased() {
        case "roi": return "ROI"
        default: return parameter
        }
    }
}
