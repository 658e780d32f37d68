/// A value that may cross into `DispatchQueue.concurrentPerform`, where each worker touches
/// only its own part of it (shared by the compute loops and the formats' parallel decoding).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
