import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time per network stage, collected when `BERG_PROFILE=1` (or `enabled = true`),
/// so that `berg bench` can say where the time goes. Off, it costs one branch per stage.
public enum ComputeProfile {
    nonisolated(unsafe) public static var enabled = ProcessInfo.processInfo.environment["BERG_PROFILE"] == "1"
    nonisolated(unsafe) private static var totals: [String: Double] = [:]
    nonisolated(unsafe) private static var order: [String] = []
    private static let lock = NSLock()

    /// Runs `body`, adding its wall time to `stage` when profiling is on.
    @inline(__always)
    static func measure<T>(_ stage: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
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

/// Process-wide allocator setting for large activations: glibc raises its mmap threshold each
/// time a large block is freed, after which the next activations come from fragmented heap
/// arenas and peak memory climbs with every batch (1.3 GB instead of 0.4 GB for ResNet-18 at
/// batch 64). A fixed 1 MiB threshold keeps every large buffer mmapped and returned on free.
enum AllocatorTuning {
    static let applied: Bool = {
        #if canImport(Glibc)
        // mallopt lives in <malloc.h>, which Swift's Glibc module does not export; M_MMAP_THRESHOLD is −3.
        if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil,
           let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 1 << 20)
        }
        #endif
        return true
    }()
}
