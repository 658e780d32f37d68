import Foundation

/// The reference venv's Python, for tests that check our files with the reference packages
/// live: `BERG_REFERENCE_PYTHON`, else `Tools/reference/.venv/bin/python` under the package
/// root. Such tests skip without one, so `make test` needs no Python; `make test-reference`
/// sets `BERG_REQUIRE_REFERENCE=1`, which turns the skip into a failure.
public enum ReferencePython {
    /// Whether a missing reference Python is a failure rather than a skip.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["BERG_REQUIRE_REFERENCE"] == "1" }

    /// The Python to use when it runs `import <modules>`; otherwise nil and why not.
    public static func find(importing modules: String, root: URL) -> (path: String?, reason: String) {
        let candidate = ProcessInfo.processInfo.environment["BERG_REFERENCE_PYTHON"]
            ?? root.appendingPathComponent("Tools/reference/.venv/bin/python").path
        let usable = FileManager.default.isExecutableFile(atPath: candidate)
            && (try? run(candidate, ["-c", "import \(modules)"]))?.status == 0
        return (usable ? candidate : nil, "no Python with \(modules) at \(candidate) (set BERG_REFERENCE_PYTHON)")
    }

    /// Runs a program to its end: its exit status and its stdout and stderr together.
    public static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
