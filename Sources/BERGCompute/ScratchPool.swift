import Foundation

/// Reused scratch memory for im2col, Winograd tiles and GEMM staging. A fresh buffer
/// page-faults on first touch (for a single image that cost a third of a 3×3 convolution's
/// time when large buffers were mmapped), so a few buffers are kept between calls.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [[Float]] = []
    private let lock = NSLock()
    /// Buffers kept at most; the largest are kept, so the pool settles at the network's needs.
    private let keep = 4

    /// Runs `body` with at least `count` uninitialised floats.
    func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let needed = max(count, 1)
        lock.lock()
        var buffer: [Float] = []
        if let i = free.indices.filter({ free[$0].count >= needed }).min(by: { free[$0].count < free[$1].count }) {
            buffer = free.remove(at: i)
        }
        lock.unlock()
        if buffer.count < needed {
            buffer = [Float](unsafeUninitializedCapacity: needed) { _, initialised in initialised = needed }
        }
        defer {
            lock.lock()
            free.append(buffer)
            if free.count > keep, let smallest = free.indices.min(by: { free[$0].count < free[$1].count }) {
                free.remove(at: smallest)
            }
            lock.unlock()
        }
        return try buffer.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}
