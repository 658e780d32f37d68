/// Bounds that keep a hostile pickle from exhausting memory or the stack. Every declared size
/// is also checked against the bytes actually left in the file before anything is allocated.
public struct PickleLimits: Sendable {
    /// Deepest nesting of containers in the result.
    public var maxDepth: Int
    /// Most elements (stack entries plus container items) one pickle may create.
    public var maxElements: Int
    /// Most entries in the memo.
    public var maxMemo: Int
    /// Widest integer (LONG1/LONG4), in bytes.
    public var maxIntegerBytes: Int
    /// Most elements in one array (NumPy or PyTorch) the pickle describes.
    public var maxArrayElements: Int

    public init(maxDepth: Int = 200, maxElements: Int = 50_000_000, maxMemo: Int = 10_000_000,
                maxIntegerBytes: Int = 4096, maxArrayElements: Int = 4_000_000_000) {
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.maxMemo = maxMemo
        self.maxIntegerBytes = maxIntegerBytes
        self.maxArrayElements = maxArrayElements
    }

    public static let `default` = PickleLimits()
}
