import ArgumentParser
import BERG
import Foundation

/// The command line's failure contract: one line on stderr starting `error:`, and exit status
/// 2 for a usage error or invalid parameter, 1 for any other failure, 0 for help and version.
enum ErrorReport {
    static func report(_ error: Error) -> Int32 {
        if let error = error as? BERGError {
            printError(joined(error.message, advice(for: error)))
            return error.isUsageError ? 2 : 1
        }
        if let failure = error as? ModelFilesError {
            printError(joined(failure.error.message, advice(for: failure.error, getModel: failure.getModelCommand)))
            return failure.error.isUsageError ? 2 : 1
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
            // Anything else (a system error the library did not wrap, or one a `validate()`
            // threw, which the parser wraps and describes) is a failure, not misuse.
            printError(Berg.message(for: error))
            return 1
        }
    }

    /// What to type to get out of an error, for errors the library reports without flags;
    /// `getModel` is the command that fetches the failing command's files.
    static func advice(for error: BERGError, getModel: String? = nil,
                       environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let offline = StoreOptions.isOffline(environment)
        switch error {
        case .artifactMissing(let name, _):
            var text = ". Give the file with --artifact \(name)=PATH, or point --berg-dir at a BERG download"
            if offline {
                text += ", or unset BERG_OFFLINE and run " + (getModel.map { "`\($0)`" } ?? "`berg get-model` for this model")
            } else if let getModel {
                text += ", or fetch it with `\(getModel)`"
            }
            return text
        case .downloadFailed:
            return ". Without the network: give the file with --artifact NAME=PATH, point --berg-dir at a BERG download, or copy a cache fetched elsewhere to BERG_HOME and set BERG_OFFLINE=1"
        case .invalidParameter(let model, let name, _, _) where name == "subject":
            return ". `berg describe \(model)` lists the subjects"
        case .invalidArgument(let name, _, let message) where name == "RDM output" && message.contains("one RDM"):
            return ". Choose it with --layer NAME"
        case .invalidArgument(let name, _, _) where name == "PCA components":
            return ". Give a smaller --pca"
        default:
            return ""
        }
    }

    /// A message and its advice (". Do this"), with one full stop between them.
    static func joined(_ message: String, _ advice: String) -> String {
        guard !advice.isEmpty else { return message }
        var text = message
        while text.hasSuffix(".") { text.removeLast() }
        return text + advice
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

/// A library error raised while a command worked on one model, with the `berg get-model`
/// command that fetches that model's files, so that the advice is a command that works as
/// printed.
struct ModelFilesError: Error {
    let error: BERGError
    let getModelCommand: String

    /// Runs `body`, attaching the get-model command for `modelID` to any `BERGError`.
    static func adding<T>(modelID: String, subject: Int?, selection: Selection, registries: [String],
                          _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as BERGError {
            var words = ["berg", "get-model", modelID]
            words += subject.map { ["--subject", String($0)] } ?? ["--all-subjects"]
            let keys = selection.values.keys.sorted()
            if keys == ["roi"], let roi = selection["roi"] { words += ["--roi", roi] }
            else { for key in keys { words += ["--select", "\(key)=\(selection[key]!)"] } }
            for folder in registries { words += ["--registry", folder] }
            throw ModelFilesError(error: error, getModelCommand: words.map(shellQuoted).joined(separator: " "))
        }
    }

    /// A word as a POSIX shell reads it back.
    static func shellQuoted(_ word: String) -> String {
        let plain = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.,/=:+@%"))
        if !word.isEmpty, word.unicodeScalars.allSatisfy(plain.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
