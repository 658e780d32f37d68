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

/// Process-wide allocator setting for large activations. glibc's default raises its mmap
/// threshold each time a large block is freed, so peak memory climbed with every batch (1.3 GB
/// instead of 0.4 GB for ResNet-18 at batch 64). Mapping every large buffer (a 1 MiB
/// threshold) fixed that but made each new activation fault in and zero fresh pages: a fifth
/// of ViT-B/32's time went to the kernel. Fixed 1 GiB mmap and trim thresholds keep
/// activations on the heap, reused from layer to layer, and the fixed values stop glibc's
/// adjustment: peak RSS stays at 0.55–0.6 GB over 13 batches of 64 (ResNet-18, ViT-B/32).
enum AllocatorTuning {
    static let applied: Bool = {
        #if canImport(Glibc)
        // mallopt lives in <malloc.h>, which Swift's Glibc module does not export; M_MMAP_THRESHOLD is −3, M_TRIM_THRESHOLD −1.
        if ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil,
           let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            _ = mallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD
            _ = mallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD
        }
        #endif
        return true
    }()
}
