#if canImport(CDNNL)
import CDNNL
#endif
import Foundation

/// oneDNN, held to one thread per call.
///
/// Debian's oneDNN runs on OpenMP, whose thread count (`omp_set_num_threads`) is a setting of
/// the calling thread in libgomp: `singleThreaded` sets it to 1 on its own thread and puts the
/// old value back, so no other thread, and no other library, sees a change. The engine's own
/// workers give the parallelism.
enum OneDNN {
    #if canImport(CDNNL)
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias GetThreads = @convention(c) () -> Int32

    /// OpenMP's per-thread setters, from the runtime oneDNN loaded (libgomp); nil when oneDNN
    /// runs on another runtime, where BERG could not hold it to one thread.
    private static let openMP: (set: SetThreads, get: GetThreads)? = {
        guard let version = dnnl_version(), version.pointee.cpu_runtime == UInt32(DNNL_RUNTIME_OMP) else { return nil }
        let process = dlopen(nil, RTLD_NOW)
        guard let set = dlsym(process, "omp_set_num_threads"), let get = dlsym(process, "omp_get_max_threads") else {
            return nil
        }
        return (unsafeBitCast(set, to: SetThreads.self), unsafeBitCast(get, to: GetThreads.self))
    }()

    /// The CPU engine every primitive runs on (engines may be shared between threads).
    nonisolated(unsafe) static let engine: dnnl_engine_t? = {
        var engine: dnnl_engine_t?
        return dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success ? engine : nil
    }()

    static var isAvailable: Bool { openMP != nil && engine != nil }

    /// The library's version, such as "2.6.3".
    static var version: String? {
        guard let v = dnnl_version()?.pointee else { return nil }
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// Runs `body` with oneDNN's calls on this thread held to one thread.
    static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        guard let openMP else { preconditionFailure("oneDNN is not available") }
        let previous = openMP.get()
        if previous != 1 { openMP.set(1) }
        defer { if previous != 1 { openMP.set(previous) } }
        return try body()
    }

    static func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                      b: UnsafePointer<Float>, ldb: Int, transposeB: Bool, beta: Float,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
        let status = singleThreaded {
            dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                       dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda),
                       b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
        }
        // Only invalid arguments fail, and the engine's shapes are checked before they get here.
        precondition(status == dnnl_success, "dnnl_sgemm failed (status \(status.rawValue)) for \(m)×\(n)×\(k)")
    }

    /// Fails with the call's name when oneDNN reports an error.
    static func check(_ status: dnnl_status_t, _ call: String) throws {
        guard status == dnnl_success else {
            throw BERGComputeError.oneDNN("\(call) failed with status \(status.rawValue)")
        }
    }
    #else
    static var isAvailable: Bool { false }
    static var version: String? { nil }

    static func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                      b: UnsafePointer<Float>, ldb: Int, transposeB: Bool, beta: Float,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
        preconditionFailure("this build has no oneDNN")
    }
    #endif
}

/// Why a oneDNN primitive could not be built; the engine then falls back to its own code.
enum BERGComputeError: Error {
    case oneDNN(String)
}
