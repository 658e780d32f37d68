/// A batch of RGB images, uint8, laid out [N, 3, H, W] (channel-major, as PyTorch's
/// `ToTensor` and BERG's arrays have them).
public struct Stimulus: Sendable {
    public var pixels: [UInt8]
    public var count: Int
    public var height: Int
    public var width: Int
    /// One name per image (file names, or `image-0` ... for arrays).
    public var names: [String]
    /// What loading changed or dropped that the user should hear about (transparency dropped,
    /// ...), one line each; `BERG.encode` passes them on in `EncodingResult.warnings`.
    public var warnings: [String] = []

    public init(images pixels: [UInt8], count: Int, height: Int, width: Int, names: [String]? = nil) throws {
        guard count > 0, height > 0, width > 0 else {
            throw BERGError.invalidInput("A stimulus needs at least one image of positive size; got \(count) images of \(height)×\(width)")
        }
        guard pixels.count == count * 3 * height * width else {
            throw BERGError.shapeMismatch(what: "Stimulus pixels [N,3,H,W]", expected: [count, 3, height, width],
                                          actual: [pixels.count])
        }
        if let names, names.count != count {
            throw BERGError.invalidInput("A stimulus of \(count) images needs \(count) names, got \(names.count)")
        }
        self.pixels = pixels
        self.count = count
        self.height = height
        self.width = width
        self.names = names ?? (0..<count).map { "image-\($0)" }
    }

    public var isSquare: Bool { height == width }
    public var imageSize: Int { 3 * height * width }

    /// The pixels of image `index`, [3, H, W].
    public func image(_ index: Int) -> ArraySlice<UInt8> {
        pixels[index * imageSize ..< (index + 1) * imageSize]
    }

    /// Images `range` as a new stimulus, for batching.
    public func batch(_ range: Range<Int>) -> Stimulus {
        // The slice bounds come from a valid stimulus, so the shape is valid by construction.
        try! Stimulus(images: Array(pixels[range.lowerBound * imageSize ..< range.upperBound * imageSize]),
                      count: range.count, height: height, width: width,
                      names: Array(names[range]))
    }

    /// The stimulus as a uint8 tensor [N, 3, H, W].
    public var tensor: Tensor { Tensor(checked: [count, 3, height, width], storage: .uint8(pixels)) }
}
