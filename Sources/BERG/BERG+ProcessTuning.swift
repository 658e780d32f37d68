import BERGCompute

extension BERG {
    /// Opts this process into the settings that make long compute runs faster: glibc's malloc
    /// keeps large activations on the heap between layers (fixed 1 GiB mmap and trim
    /// thresholds, unless `MALLOC_MMAP_THRESHOLD_` is set), and OpenBLAS's own thread pool
    /// follows the engine's thread count (`configureThreads`) from now on, for the work OpenBLAS
    /// threads itself (RSA's float64 products; every GEMM in builds without oneDNN). They change
    /// the whole process, other libraries included, so the library never applies them on its
    /// own; the `berg` command calls this at start-up. Later calls do nothing.
    public static func applyProcessTuning() {
        ProcessTuning.apply()
    }
}
