import BERGCore
import Foundation

/// How many threads compute uses. The default is all cores; `BERG_NUM_THREADS` overrides it,
/// and `berg --threads N` (or a caller) sets it through `configure`.
///
/// The engine does its own threading: a parallel loop over the batch (or over a GEMM's column
/// panels) with every oneDNN call single-threaded inside. It never changes a BLAS library's
/// process-wide thread count unless the program opted into `ProcessTuning`.
public enum ComputeThreads {
    nonisolated(unsafe) private static var stored: Int = 0
    private static let lock = NSLock()

    /// The thread count in effect (at least 1).
    public static var count: Int {
        get {
            lock.lock(); defer { lock.unlock() }
            if stored == 0 { stored = resolved(nil) }
            return stored
        }
        set { configure(newValue) }
    }

    /// Sets the count: `n` when given (clamped to at least 1), else `BERG_NUM_THREADS`, else all
    /// cores. OpenBLAS's own pool follows only in a program that opted into `ProcessTuning`.
    public static func configure(_ n: Int?) {
        lock.lock()
        stored = resolved(n)
        lock.unlock()
        ProcessTuning.followEngineThreads()
    }

    private static func resolved(_ n: Int?) -> Int {
        if let n { return max(1, n) }
        if let env = ProcessInfo.processInfo.environment["BERG_NUM_THREADS"], let v = Int(env.trimmingCharacters(in: .whitespaces)), v > 0 {
            return v
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// A pointer that may cross into `concurrentPerform`; each worker writes a disjoint range.
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// Loops over items on the compute threads (other modules' numeric loops use them too).
public enum Parallel {
    /// How many workers a loop over `n` items uses: one per thread, at most one per item.
    public static func workers(for n: Int) -> Int {
        let threads = ComputeThreads.count
        return (n > 1 && threads > 1) ? min(threads, n) : 1
    }

    /// Runs `body(item, worker)` for item in 0..<n, where `worker` < `workers` (default
    /// `workers(for: n)`) names a per-worker scratch slot; with one worker, items run in order on
    /// the calling thread. GEMMs inside should run single-threaded (`threads: 1`). A caller that
    /// sized per-worker scratch passes the count it sized for, so that a thread count changed
    /// meanwhile (`ComputeThreads.configure`) cannot overrun it.
    public static func forEach(_ n: Int, workers requested: Int? = nil, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let workers = requested ?? workers(for: n)
        guard workers > 1 else {
            for i in 0..<n { body(i, 0) }
            return
        }
        run(workers) { w in
            var i = w
            while i < n { body(i, w); i += workers }
        }
    }

    /// Splits 0..<n into contiguous chunks, one per worker, for element-wise work.
    public static func chunks(_ n: Int, minChunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        let threads = ComputeThreads.count
        let pieces = min(threads, max(1, n / minChunk))
        if pieces <= 1 { body(0..<n); return }
        run(pieces) { k in body((n * k / pieces)..<(n * (k + 1) / pieces)) }
    }

    /// Runs `body(part)` for part in 0..<parts concurrently, each on its own thread, with the
    /// caller's scoped GEMM backend (`GEMM.withBackend`) in effect there too.
    static func run(_ parts: Int, _ body: (Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        let backend = GEMM.scopedBackend
        // Each part touches disjoint data; the closure only has to outlive this call.
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                if let backend {
                    GEMM.$scopedBackend.withValue(backend) { box.value(part) }
                } else {
                    box.value(part)
                }
            }
        }
    }
}
