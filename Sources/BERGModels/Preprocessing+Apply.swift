import BERGCompute
import BERGCore
import BERGRegistry

/// The manifest's preprocessing steps, applied to a stimulus of any size.
extension Preprocessing {
    /// Steps 1–3 (square crop, resize, centre crop): uint8 [N, 3, H', W'].
    public func resized(_ stimulus: Stimulus) throws -> Tensor {
        var images = stimulus.tensor
        if squareCrop == true, !stimulus.isSquare {
            images = try Preprocessing.largestSquare(images)
        }
        if let resize {
            let (h, w) = (images.shape[2], images.shape[3])
            let target: (height: Int, width: Int)
            if let size { target = (size[0], size[1]) }
            else { target = ImageResize.shorterSideSize(height: h, width: w, size: shorterSide ?? min(h, w)) }
            if target != (h, w) {
                switch resize {
                case .torchvisionBilinear: images = try ImageResize.torchvisionBilinear(images, height: target.height, width: target.width)
                case .pilBilinear: images = try ImageResize.pil(images, height: target.height, width: target.width, filter: .bilinear)
                }
            }
        }
        if let crop { images = try ImageResize.centerCrop(images, height: crop, width: crop) }
        return images
    }

    /// Step 4: float32, / 255, then (x − mean) / std when given.
    public func normalized(_ images: Tensor) throws -> Tensor {
        try ImageResize.toFloat(images, mean: mean?.map(Float.init), std: std?.map(Float.init))
    }

    /// All four steps: the network's float input [N, 3, H', W'].
    public func apply(_ stimulus: Stimulus) throws -> Tensor {
        try normalized(resized(stimulus))
    }

    /// What the square crop did to a stimulus, for the result's metadata (nil when nothing).
    public func cropNote(for stimulus: Stimulus) -> String? {
        guard squareCrop == true, !stimulus.isSquare else { return nil }
        let side = min(stimulus.width, stimulus.height)
        return "centre-cropped to the largest square, \(side)×\(side) of \(stimulus.width)×\(stimulus.height) (offset ⌊(W−S)/2⌋, ⌊(H−S)/2⌋): "
            + stimulus.names.joined(separator: ", ")
    }

    /// The largest centred square of each image, at Pillow's offsets ⌊(W−S)/2⌋, ⌊(H−S)/2⌋
    /// (`crop((l, t, l + S, t + S))`), which differ from torchvision's rounded ones.
    static func largestSquare(_ images: Tensor) throws -> Tensor {
        guard case .uint8(let bytes) = images.storage, images.rank == 4 else {
            throw BERGError.shapeMismatch(what: "images for a square crop (uint8 [N, 3, H, W])", expected: [-1, 3, -1, -1], actual: images.shape)
        }
        let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let side = min(h, w), top = (h - side) / 2, left = (w - side) / 2
        var out = [UInt8]()
        out.reserveCapacity(n * c * side * side)
        for plane in 0..<(n * c) {
            for y in 0..<side {
                let start = plane * h * w + (top + y) * w + left
                out.append(contentsOf: bytes[start ..< start + side])
            }
        }
        return try Tensor(shape: [n, c, side, side], bytes: out)
    }
}
