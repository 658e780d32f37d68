import BERGCore
import Foundation

/// PyTorch's `torch.optim.Adam` with its defaults (β = (0.9, 0.999), ε = 1e-8, no weight
/// decay), minimising.
public struct AdamOptimizer: Sendable {
    public let learningRate: Float
    public let beta1: Float = 0.9
    public let beta2: Float = 0.999
    public let epsilon: Float = 1e-8
    private var firstMoment: [Float]
    private var secondMoment: [Float]
    private var step = 0

    public init(parameterCount: Int, learningRate: Float) {
        self.learningRate = learningRate
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// One step: p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
    public mutating func update(_ parameters: inout [Float], gradient: [Float]) {
        step += 1
        let correction1 = 1 - Float(pow(Double(beta1), Double(step)))
        let correction2 = (1 - Float(pow(Double(beta2), Double(step)))).squareRoot()
        let stepSize = learningRate / correction1
        for i in parameters.indices {
            let g = gradient[i]
            firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g
            secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g * g
            parameters[i] -= stepSize * firstMoment[i] / (secondMoment[i].squareRoot() / correction2 + epsilon)
        }
    }
}

/// How a dream is made (the defaults are lucent's `render_vis` and issue 17's).
public struct DreamSettings: Sendable, Equatable {
    /// Optimisation steps.
    public var steps: Int = 512
    /// Adam's learning rate.
    public var learningRate: Double = 0.05
    /// Seeds the spectrum and every transform draw: the same seed gives the same image.
    public var seed: UInt64 = 0
    /// The side of the dreamed image.
    public var size: Int = 227
    /// Images dreamed at once (each maximises its own target; they share each step's transform).
    public var batch: Int = 1

    public init(steps: Int = 512, learningRate: Double = 0.05, seed: UInt64 = 0, size: Int = 227, batch: Int = 1) {
        self.steps = steps
        self.learningRate = learningRate
        self.seed = seed
        self.size = size
        self.batch = batch
    }

    public func validate() throws {
        guard steps >= 1 else { throw BERGError.invalidArgument(name: "steps", value: String(steps), message: "must be at least 1") }
        guard learningRate > 0, learningRate.isFinite else {
            throw BERGError.invalidArgument(name: "lr", value: String(learningRate), message: "must be a positive number")
        }
        guard (16...2048).contains(size) else { throw BERGError.invalidArgument(name: "size", value: String(size), message: "must be in 16...2048 pixels") }
        guard (1...64).contains(batch) else { throw BERGError.invalidArgument(name: "batch", value: String(batch), message: "must be in 1...64") }
    }
}

/// A dreamed image and how its target rose.
public struct DreamResult: Sendable {
    /// [batch, 3, size, size] in [0, 1].
    public var images: Tensor
    /// Per step, the target of each image as the optimiser saw it (transformed), [step][image].
    public var trace: [[Float]]
    /// The target of each final image, untransformed, quantised to 8 bits as a PNG keeps it,
    /// and resized to the model's input side.
    public var finalValues: [Float]

    /// The batch mean of the target per step.
    public var meanTrace: [Float] { trace.map { $0.reduce(0, +) / Float(max($0.count, 1)) } }

    /// The images as 8-bit RGB, round to nearest.
    public var bytes: [UInt8] { images.floats.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) } }
}

/// Input optimisation from noise that maximises a target (lucent's `render_vis`): a Fourier,
/// colour-decorrelated image (`FourierImage`), the random transforms of `DreamTransforms`
/// before each pass through the model, and Adam on the spectrum, minimising −mean(target).
public enum Dreamer {
    /// - Parameter progress: called after each step with (step, steps, mean target).
    public static func dream(_ target: any ResponseTarget, settings: DreamSettings,
                             progress: ((Int, Int, Float) -> Void)? = nil) throws -> DreamResult {
        try settings.validate()
        var generator = SeededGenerator(seed: settings.seed)
        var image = try FourierImage(batch: settings.batch, size: settings.size, generator: &generator)
        var adam = AdamOptimizer(parameterCount: image.spectrum.count, learningRate: Float(settings.learningRate))
        let inputSide = target.inputSide ?? settings.size
        var trace: [[Float]] = []
        trace.reserveCapacity(settings.steps)
        for step in 1...settings.steps {
            let rendered = try image.render()
            let transforms = DreamTransforms(side: settings.size, outputSide: inputSide, generator: &generator)
            let (values, gradients) = try target.valuesAndGradients(transforms.apply(rendered))
            trace.append(values)
            // loss = −mean over the batch of the target.
            let scale = -1 / Float(settings.batch)
            let lossGradient = try Tensor(shape: gradients.shape, floats: gradients.floats.map { $0 * scale })
            let spectrumGradient = try image.gradient(imageGradient: transforms.adjoint(lossGradient), image: rendered)
            adam.update(&image.spectrum, gradient: spectrumGradient)
            progress?(step, settings.steps, values.reduce(0, +) / Float(values.count))
        }
        let final = try image.render()
        // What the PNG will hold, as the model sees it.
        var result = DreamResult(images: final, trace: trace, finalValues: [])
        let quantised = try Tensor(shape: final.shape, floats: result.bytes.map { Float($0) / 255 })
        let resize = PlaneResampling.resize(height: settings.size, width: settings.size, toHeight: inputSide, width: inputSide)
        let input = settings.size == inputSide ? quantised
            : try Tensor(shape: [settings.batch, 3, inputSide, inputSide], floats: resize.apply(quantised.floats, planes: settings.batch * 3))
        result.finalValues = try target.values(input)
        return result
    }
}
