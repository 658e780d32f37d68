import BERGCore

/// One number per image that a model predicts from the image, and its gradient with respect
/// to the image: for an encoding model, the mean predicted response over a set of voxels.
///
/// Images are float [N, 3, H, W] in [0, 1] (the model's own input: after its resize and crop,
/// before its normalisation). Each image's value depends on that image alone, so one backward
/// pass gives every image's gradient.
public protocol ResponseTarget: Sendable {
    /// The side of the square image the target takes, or nil when any size works.
    var inputSide: Int? { get }
    /// Images per pass that keep memory bounded and the compute engine busy.
    var preferredBatch: Int { get }
    /// The target of each image.
    func values(_ images: Tensor) throws -> [Float]
    /// The target of each image and its gradient [N, 3, H, W].
    func valuesAndGradients(_ images: Tensor) throws -> (values: [Float], gradients: Tensor)
}

extension ResponseTarget {
    /// Checks that `images` are [N, 3, S, S] with S the target's side (any square side when nil).
    public func checkInput(_ images: Tensor) throws {
        guard images.rank == 4, images.shape[1] == 3, images.shape[2] == images.shape[3], images.shape[2] > 0 else {
            throw BERGError.shapeMismatch(what: "input images (N, 3, S, S), float in [0, 1]", expected: [-1, 3, inputSide ?? -1, inputSide ?? -1], actual: images.shape)
        }
        if let side = inputSide, images.shape[2] != side {
            throw BERGError.shapeMismatch(what: "input images at the model's input size", expected: [images.shape[0], 3, side, side], actual: images.shape)
        }
    }
}
