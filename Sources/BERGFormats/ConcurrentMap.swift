import BERGCore
import Foundation

/// `transform` of each item on up to `threads` threads, results in item order. If any throw,
/// the error of the first failing item (in item order) is thrown, as a plain loop would.
public func concurrentMap<T, R>(_ items: [T], threads: Int, _ transform: (T) throws -> R) throws -> [R] {
    let workers = min(max(1, threads), items.count)
    if workers <= 1 { return try items.map(transform) }
    var results = [Result<R, any Error>?](repeating: nil, count: items.count)
    results.withUnsafeMutableBufferPointer { slots in
        withoutActuallyEscaping(transform) { transform in
            let box = UncheckedSendable((transform, slots, items))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let (transform, slots, items) = box.value
                for i in stride(from: w, to: items.count, by: workers) {
                    slots[i] = Result { try transform(items[i]) }
                }
            }
        }
    }
    return try results.map { try $0!.get() }
}
