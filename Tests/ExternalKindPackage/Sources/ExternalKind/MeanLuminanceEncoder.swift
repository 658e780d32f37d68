import BERG

/// An encoder kind from outside BERG: one output per image, its mean luminance scaled by
/// `gain` (from the manifest's settings), repeated over `voxels` outputs.
public struct MeanLuminanceEncoder: EncodingModel {
    public struct Settings: EncoderSettingsType {
        public var gain: Float
        public var voxels: Int
        public func validate() throws {
            guard voxels > 0 else { throw SettingsProblem("voxels", "must be positive") }
        }
    }

    public let modelID: String
    public let subject: Subject
    public let selection: Selection
    public let device: Device
    public let settings: Settings
    public var metadata: Metadata { Metadata([("gain", .double(Double(settings.gain)))]) }

    /// Adds the kind `mean-luminance` to the shared registry.
    public static func register() {
        EncoderKindRegistry.shared.register(kind: "mean-luminance", settings: Settings.self) { context, settings in
            MeanLuminanceEncoder(modelID: context.manifest.modelID, subject: context.subject,
                                 selection: context.selection, device: context.device, settings: settings)
        }
    }

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        var values: [Float] = []
        for index in 0..<stimulus.count {
            let pixels = stimulus.image(index)
            let mean = Float(pixels.reduce(0) { $0 + Int($1) }) / Float(pixels.count) / 255
            values += [Float](repeating: mean * settings.gain, count: settings.voxels)
        }
        return EncodingResult(responses: ["responses": try Tensor(shape: [stimulus.count, settings.voxels], floats: values)],
                              metadata: metadata, stimulusNames: stimulus.names)
    }
}
