import Foundation

/// Wall-clock time per network stage, collected when `BERG_PROFILE=1` (or `enabled = true`),
/// so that `berg bench` can say where the time goes. Off, it costs one locked read per stage.
/// Stages of concurrent runs add up into the same totals.
public enum ComputeProfile {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var isEnabled = ProcessInfo.processInfo.environment["BERG_PROFILE"] == "1"
    nonisolated(unsafe) private static var totals: [String: Double] = [:]
    nonisolated(unsafe) private static var order: [String] = []

    /// Whether stages are being timed.
    public static var enabled: Bool {
        get { lock.lock(); defer { lock.unlock() }; return isEnabled }
        set { lock.lock(); isEnabled = newValue; lock.unlock() }
    }

    /// Runs `body`, adding its wall time to `stage` when profiling is on.
    @inline(__always)
    public static func measure<T>(_ stage: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let name = stage()
        lock.lock()
        if totals[name] == nil { order.append(name) }
        totals[name, default: 0] += seconds
        lock.unlock()
        return result
    }

    /// The stages in first-seen order with their accumulated seconds, and clears them.
    public static func drain() -> [(stage: String, seconds: Double)] {
        lock.lock(); defer { lock.unlock() }
        let result = order.map { ($0, totals[$0] ?? 0) }
        totals = [:]; order = []
        return result
    }
}
