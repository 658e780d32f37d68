import ArgumentParser
import BERG
import Foundation

/// The command line's failure contract: one line on stderr starting `error:`, and exit status
/// 2 for a usage error or invalid parameter, 1 for any other failure, 0 for help and version.
enum ErrorReport {
    static func report(_ error: Error) -> Int32 {
        if let error = error as? BERGError {
            printError(error.message + advice(for: error))
            return error.isUsageError ? 2 : 1
        }
        if let code = error as? ExitCode { return code.rawValue }
        switch Berg.exitCode(for: error) {
        case .success:
            // --help and --version.
            print(Berg.fullMessage(for: error))
            return 0
        case .validationFailure:
            // The argument parser's own errors and ValidationErrors: usage errors.
            printError(Berg.message(for: error))
            return 2
        default:
            // Anything else (a system error the library did not wrap) is a failure, not misuse.
            printError(error.localizedDescription)
            return 1
        }
    }

    /// What to type to get out of an error, for errors the library reports without flags.
    static func advice(for error: BERGError) -> String {
        switch error {
        case .artifactMissing:
            return ". Give the file with --artifact NAME=PATH, point --berg-dir at a BERG download, or unset BERG_OFFLINE and run `berg get-model`"
        case .invalidParameter(let model, let name, _, _) where name == "subject":
            return ". `berg describe \(model)` lists the subjects"
        default:
            return ""
        }
    }

    static func printError(_ message: String) {
        let oneLine = message.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        let text = oneLine.hasPrefix("Error: ") ? String(oneLine.dropFirst(7)) : oneLine
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
    }
}
