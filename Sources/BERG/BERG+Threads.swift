import BERGCompute
import BERGCore
import Foundation

extension BERG {
    /// `BERG_NUM_THREADS` as a thread count: nil when unset or empty, an error naming the
    /// variable when it is not a positive integer.
    public static func environmentThreads(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        guard let text = environment["BERG_NUM_THREADS"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let n = Int(text), n >= 1 else {
            throw BERGError.invalidArgument(name: "BERG_NUM_THREADS", value: text, message: "must be a whole number of threads, at least 1")
        }
        return n
    }

    /// One check for a thread count given in code (or `--threads`) and for `BERG_NUM_THREADS`.
    public static func checkThreadSetting(_ threads: Int?) throws {
        if let threads {
            guard threads >= 1 else {
                throw BERGError.invalidArgument(name: "threads", value: String(threads), message: "must be at least 1")
            }
        } else {
            _ = try environmentThreads()
        }
    }

    /// Sets how many threads compute uses in this process: `threads`, else `BERG_NUM_THREADS`,
    /// else all cores. A process-wide setting, for programs (such as the command line) that
    /// opt in.
    public static func configureThreads(_ threads: Int?) throws {
        try checkThreadSetting(threads)
        ComputeThreads.configure(try threads ?? environmentThreads())
    }
}
