import BERGCore
import CBLAS
import Foundation

/// How many threads compute uses. The default is all cores; `BERG_NUM_THREADS` overrides it,
/// and `berg --threads N` (or a caller) sets it through `configure`.
///
/// Two kinds of parallelism share the count, never both at once: OpenBLAS threads inside one
/// large GEMM, or a parallel loop over the batch with OpenBLAS single-threaded inside.
public enum ComputeThreads {
    nonisolated(unsafe) private static var stored: Int = 0
    private static let lock = NSLock()

    /// The thread count in effect (at least 1).
    public static var count: Int {
        get {
            lock.lock(); defer { lock.unlock() }
            if stored == 0 {
                _ = AllocatorTuning.applied
                stored = resolved(nil)
                openblas_set_num_threads(Int32(stored))
            }
            return stored
        }
        set { configure(newValue) }
    }

    /// Sets the count: `n` when given (clamped to at least 1), else `BERG_NUM_THREADS`, else all cores.
    public static func configure(_ n: Int?) {
        lock.lock(); defer { lock.unlock() }
        _ = AllocatorTuning.applied
        stored = resolved(n)
        openblas_set_num_threads(Int32(stored))
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

    /// Runs `body(item, worker)` for item in 0..<n, where `worker` < `workers(for: n)` names a
    /// per-worker scratch slot. With more than one worker OpenBLAS runs single-threaded inside
    /// (no oversubscription); with one, items run in order and OpenBLAS uses all threads.
    public static func forEach(_ n: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let workers = workers(for: n)
        guard workers > 1 else {
            for i in 0..<n { body(i, 0) }
            return
        }
        let threads = ComputeThreads.count
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(threads)) }
        // Each worker touches disjoint data; the closure only has to outlive this call.
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < n { box.value(i, w); i += workers }
            }
        }
    }

    /// Splits 0..<n into contiguous chunks, one per worker, for element-wise work.
    public static func chunks(_ n: Int, minChunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        let threads = ComputeThreads.count
        let pieces = min(threads, max(1, n / minChunk))
        if pieces <= 1 { body(0..<n); return }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: pieces) { k in
                box.value((n * k / pieces)..<(n * (k + 1) / pieces))
            }
        }
    }
}
