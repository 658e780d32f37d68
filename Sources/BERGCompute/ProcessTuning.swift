import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings that make long compute runs faster. The library never applies them on
/// its own: a program opts in, once, at start-up (the `berg` command does, through
/// `BERG.applyProcessTuning()`), because they change the whole process, other libraries included.
public enum ProcessTuning {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var applied = false

    /// Keeps large allocations on the heap (below), and from now on gives OpenBLAS's own
    /// thread pool the engine's thread count (`ComputeThreads`), now and whenever it changes:
    /// OpenBLAS runs the float64 products of RSA and, in builds without oneDNN, every GEMM.
    /// Later calls do nothing.
    public static func apply() {
        lock.lock(); defer { lock.unlock() }
        guard !applied else { return }
        applied = true
        keepActivationsOnTheHeap()
        openblas_set_num_threads(Int32(ComputeThreads.count))
    }

    /// After `apply()`, sets OpenBLAS's pool to the engine's current thread count (under the
    /// lock, so that concurrent changes leave the latest count); before it, does nothing.
    static func followEngineThreads() {
        lock.lock(); defer { lock.unlock() }
        if applied { openblas_set_num_threads(Int32(ComputeThreads.count)) }
    }

    /// glibc's default raises its mmap threshold each time a large block is freed, so peak
    /// memory climbed with every batch (1.3 GB instead of 0.4 GB for ResNet-18 at batch 64).
    /// Mapping every large buffer (a 1 MiB threshold) fixed that but made each new activation
    /// fault in and zero fresh pages: a fifth of ViT-B/32's time went to the kernel. Fixed
    /// 1 GiB mmap and trim thresholds keep activations on the heap, reused from layer to
    /// layer, and the fixed values stop glibc's adjustment: peak RSS stays at 0.55–0.6 GB over
    /// 13 batches of 64 (ResNet-18, ViT-B/32). `MALLOC_MMAP_THRESHOLD_` in the environment wins.
    private static func keepActivationsOnTheHeap() {
        #if canImport(Glibc)
        // mallopt lives in <malloc.h>, which Swift's Glibc module does not export; M_MMAP_THRESHOLD is −3, M_TRIM_THRESHOLD −1.
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil,
              let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD
        _ = mallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD
        #endif
    }
}
