import BERGCompute
import BERGCore
import BERGRegistry

/// An encoding model whose responses can be differentiated with respect to its input image,
/// the weights held fixed: the ground for attribution maps and dreams.
///
/// **The input** is the float image [N, 3, S, S] in [0, 1] at the model's own input size,
/// after its square crop, resize and centre crop and before its normalisation: 227 × 227 for
/// `fmri-nsd-fwrf`, 224 × 224 for the torchvision backbones (`img2fmri-bold5000`, feature-linear
/// models on AlexNet or ResNet-18), and the square-cropped image at its own size for pRF
/// models, which take any size. Gradients and attributions are with respect to that image.
public protocol DifferentiableEncodingModel: EncodingModel {
    /// Responses per image: the columns of `encode`'s output, which `voxels` index.
    var responseCount: Int { get }
    /// The side of the square input image, or nil when any size works.
    var inputSide: Int? { get }
    /// A stimulus as the model's float input: cropped and resized as `encode` does, / 255,
    /// not normalised.
    func inputImages(_ stimulus: Stimulus) throws -> Tensor
    /// The mean predicted response over `voxels` (0-based columns of the responses; all of
    /// them when nil) as a function of the input image.
    func responseTarget(voxels: [Int]?) throws -> any ResponseTarget
}

extension DifferentiableEncodingModel {
    /// Checks 0-based response columns: at least one, each in range, none twice.
    public func checkedVoxels(_ voxels: [Int]?) throws -> [Int] {
        guard let voxels else { return Array(0..<responseCount) }
        guard !voxels.isEmpty else {
            throw BERGError.invalidArgument(name: "voxels", value: "", message: "give at least one voxel index (0..<\(responseCount))")
        }
        if let bad = voxels.first(where: { !(0..<responseCount).contains($0) }) {
            throw BERGError.invalidArgument(name: "voxels", value: String(bad), message: "voxel indices are 0-based columns of the responses; \(modelID) with this selection has \(responseCount), so valid indices are 0…\(responseCount - 1)")
        }
        guard Set(voxels).count == voxels.count else {
            throw BERGError.invalidArgument(name: "voxels", value: voxels.map(String.init).joined(separator: ","), message: "an index appears twice")
        }
        return voxels
    }

    /// Integrated gradients of the mean response over `voxels` for float input images,
    /// exactly as captum's `IntegratedGradients(f).attribute(images, baseline, n_steps, method)`.
    /// `baseline` is one image [1, 3, S, S] (black by default) or one per image.
    public func integratedGradients(_ images: Tensor, baseline: Tensor? = nil, voxels: [Int]? = nil, steps: Int = 50,
                                    method: IntegrationMethod = .gaussLegendre,
                                    progress: ((Int, Int) -> Void)? = nil) throws -> Attribution {
        let target = try responseTarget(voxels: voxels)
        let base = try baseline ?? Tensor.zeros([1] + images.shape.dropFirst())
        return try IntegratedGradients.attribute(target, images: images, baseline: base, steps: steps, method: method, progress: progress)
    }

    /// The input gradient of the mean response over `voxels` for float input images, with
    /// the target's value per image.
    public func inputGradient(_ images: Tensor, voxels: [Int]? = nil) throws -> (values: [Float], gradients: Tensor) {
        let target = try responseTarget(voxels: voxels)
        try target.checkInput(images)
        return try target.valuesAndGradients(images)
    }

    /// An image that maximises the mean response over `voxels`, grown from noise as lucent's
    /// `render_vis` does (see `Dreamer`).
    public func dream(voxels: [Int]? = nil, settings: DreamSettings = DreamSettings(),
                      progress: ((Int, Int, Float) -> Void)? = nil) throws -> DreamResult {
        try Dreamer.dream(responseTarget(voxels: voxels), settings: settings, progress: progress)
    }
}

extension Preprocessing {
    /// Step 4 for float images in [0, 1]: (x − mean) / std per channel, when given.
    func normalizedFloat(_ images: Tensor) throws -> Tensor {
        try perChannel(images) { x, c in (x - Float(mean?[c] ?? 0)) / Float(std?[c] ?? 1) }
    }

    /// ∂L/∂x for ∂L/∂(normalised x): divided by std per channel.
    func normalizationGradient(_ gradient: Tensor) throws -> Tensor {
        try perChannel(gradient) { g, c in g / Float(std?[c] ?? 1) }
    }

    private func perChannel(_ t: Tensor, _ f: (Float, Int) -> Float) throws -> Tensor {
        guard t.rank == 4 else { throw BERGError.shapeMismatch(what: "images (N, C, H, W)", expected: [-1, 3, -1, -1], actual: t.shape) }
        let (c, plane) = (t.shape[1], t.shape[2] * t.shape[3])
        var values = t.floats
        for i in values.indices { values[i] = f(values[i], (i / plane) % c) }
        return try Tensor(shape: t.shape, floats: values)
    }
}
