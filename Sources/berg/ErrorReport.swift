import ArgumentParser
import BERG
import Foundation

/// The command line's failure contract: one line on stderr starting `error:`, and exit status
/// 2 for a usage error or invalid parameter, 1 for any other failure, 0 for help and version.
enum ErrorReport {
    static func report(_ error: Error) -> Int32 {
        if let error = error as? BERGError {
            printError(error.message)
            return error.isUsageError ? 2 : 1
        }
        if let code = error as? ExitCode { return code.rawValue }
        let code = Berg.exitCode(for: error)
        if code == .success {
            // --help and --version.
            print(Berg.fullMessage(for: error))
            return 0
        }
        if error is CocoaError || error is POSIXError {
            printError(error.localizedDescription)
            return 1
        }
        // Everything else comes from the argument parser: a usage error.
        printError(Berg.message(for: error))
        return 2
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
