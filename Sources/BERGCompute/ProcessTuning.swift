import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings that make long compute runs faster. The library never applies them on
/// its own: a program opts in, once, at start-up (the `berg` command does, through
/// `BERG.applyProcessTuning()`), because they change the whole process, other libraries included.
public enum ProcessTuning {
    /// Applies both settings below; later calls do nothing.
    public static func apply() {
        _ = applied
    }

    private static let applied: Bool = {
        keepActivationsOnTheHeap()
        // The engine splits work across its own threads and calls BLAS single-threaded;
        // OpenBLAS's own pool would only oversubscribe the cores (oneDNN is held per call).
        openblas_set_num_threads(1)
        return true
    }()

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
