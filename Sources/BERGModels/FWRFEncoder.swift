import BERGCompute
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// BERG's NSD feature-weighted receptive field (fwRF) networks, encoder kind `fwrf`, read from
/// BERG's own checkpoints (`torch.save` dicts) and metadata files.
///
/// The network, in eval mode (BERG's `torch_gnet.Encoder` and `torch_mpf.Torch_LayerwiseFWRF`):
/// - input: uint8 [N, 3, S, S], resized to 227×227 as torchvision's `Resize` does on uint8
///   tensors (bilinear, antialiased), then x = x / 255 − μ, μ the encoder's `mu` [1, 3, 1, 1];
/// - pre-filter: c1 = MaxPool(3, 2)(ReLU(Conv 3→64 k11 s4 p2)), y = ReLU(Conv 64→192 k5 p2);
/// - trunk, with TB(z) = ReLU(Conv k3 p1 (BN(z))): c3 = ReLU(Conv 192→128 k3 (BN(y))),
///   c4a = TB(c3), c4b = TB(c4a), c5a = TB(MaxPool(3, 2, pad 1)(c4b)), c5b, c6a, c6b (128→64);
/// - feature maps F0 = [c1, y], F1 = [c3, c4a[:64], c4b[:64]], F2 = [c5a, c5b, c6a][:64] + [c6b];
/// - the readout, `FWRFReadout`.
/// `lateral` and `ventral` ship as two checkpoints, each a whole network for half of the
/// voxels; their responses are concatenated, split 1 first.
public struct FWRFEncoder: EncodingModel {
    public static let kind = EncoderKind(
        name: "fwrf", settings: Settings.self, requiresPreprocessing: true,
        builder: { context, settings in try FWRFEncoder(context: context, settings: settings) },
        metadata: { context, _ in try FWRFEncoder.readMetadata(context: context) },
        metadataArtifacts: ["metadata"])

    /// The manifest's `encoder.settings`.
    public struct Settings: EncoderSettingsType, Equatable {
        /// Images per forward pass.
        public var batchSize: Int

        public func validate() throws {
            guard batchSize >= 1 else { throw SettingsProblem("batch_size", "must be at least 1") }
        }
    }

    public let modelID: String
    public let subject: Subject
    public let selection: Selection
    public let device: Device
    public let metadata: Metadata
    public let placement: ResponsePlacement?
    public let settings: Settings
    /// Square crop and torchvision's uint8 resize to 227×227; the network subtracts its own `mu`.
    let preprocessing: Preprocessing
    /// One network per checkpoint: one, or two for split ROIs (split 1 first).
    let networks: [FWRFNetwork]

    /// Voxels predicted: the lengths of the readouts' biases, summed over splits.
    public var voxelCount: Int { networks.reduce(0) { $0 + $1.readout.voxelCount } }

    /// The model a context describes, with the manifest's settings decoded.
    public init(context: EncoderContext) throws {
        try self.init(context: context, settings: SettingsDecoder.decode(Settings.self, from: context.manifest))
    }

    public init(context: EncoderContext, settings: Settings) throws {
        self.settings = settings
        preprocessing = try EncoderKind.preprocessing(of: context.manifest)
        modelID = context.manifest.modelID
        subject = context.subject
        selection = context.selection
        device = try context.device.resolved()
        // The weight artifacts this selection needs, in manifest order (split 1 before split 2).
        let weightNames = context.manifest.artifacts
            .filter { $0.name.hasPrefix("weights") && $0.applies(to: context.selection) }
            .map(\.name)
        guard !weightNames.isEmpty else {
            throw BERGError.invalidManifest(file: modelID, keyPath: "artifacts",
                                            message: "no 'weights…' artifact applies to \(context.selection)")
        }
        var networks: [FWRFNetwork] = []
        for name in weightNames {
            let url = try context.file(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                let splitNote = weightNames.count > 1
                    ? "ROI '\(context.selection["roi"] ?? "")' ships as \(weightNames.count) files (\(weightNames.joined(separator: ", "))) and needs all of them. "
                    : ""
                throw BERGError.fileNotFound(path: url.path, hint: "\(splitNote)Fetch the model's files for subject \(subject) and ROI \(context.selection["roi"] ?? "?") again, or use a BERG download that has it")
            }
            networks.append(try FWRFNetwork(checkpoint: TorchCheckpoint(path: url.path), subject: subject))
        }
        self.networks = networks
        self.metadata = try FWRFEncoder.readMetadata(context: context)
        placement = try FWRFEncoder.placement(metadata, voxelCount: networks.reduce(0) { $0 + $1.readout.voxelCount },
                                              metadataPath: (try? context.file("metadata").path) ?? "metadata")
    }

    /// The ROI's voxels on the subject's grid: the cells of `fmri/roi_mask_volume == 1` in NumPy's
    /// C order (BERG's voxel order), with `fmri/fmri_affine`; nil when the metadata has neither.
    static func placement(_ metadata: Metadata, voxelCount: Int, metadataPath: String) throws -> ResponsePlacement? {
        guard let mask = metadata.tensor("fmri/roi_mask_volume"), mask.rank == 3,
              let affine = metadata.doubles("fmri/fmri_affine"), affine.count == 16 else { return nil }
        let values = mask.doubles
        let inside = values.indices.filter { values[$0] == 1 }
        guard inside.count == voxelCount else {
            throw BERGError.unexpectedContent(
                path: metadataPath,
                message: "roi_mask_volume has \(inside.count) voxels but the checkpoints predict \(voxelCount); the metadata and weights files are of different ROIs or subjects")
        }
        let (y, z) = (mask.shape[1], mask.shape[2])
        let ijk = inside.flatMap { [$0 / (y * z), $0 / z % y, $0 % z] }
        return .volume(try VolumePlacement(gridShape: mask.shape, affine: affine, voxels: ["responses": ijk]))
    }

    /// The metadata file's dict (`fmri`: ncsnr, roi_mask_volume, fmri_affine; `encoding_models`:
    /// r2, noise_ceiling, explained_variance, image numbers), as a metadata tree.
    public static func readMetadata(context: EncoderContext) throws -> Metadata {
        let url = try context.file("metadata")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw BERGError.fileNotFound(path: url.path, hint: "Fetch the model's files again, or use a BERG download that has it")
        }
        let value = try NPYFile.readObject(url.path)
        guard value.dictionary != nil else {
            throw BERGError.unexpectedContent(path: url.path, message: "expected a pickled dict (np.save of BERG's metadata), found \(value.kindName)")
        }
        return value.toMetadata()
    }

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        var rows: [[Float]] = []
        var done = 0
        while done < stimulus.count {
            let range = done..<min(done + settings.batchSize, stimulus.count)
            let images = try preprocessing.resized(stimulus.batch(range))
            let parts = try networks.map { try $0.responses(images) }
            // [n, V1] ++ [n, V2] along voxels, split 1 first.
            for i in 0..<range.count {
                var row: [Float] = []
                row.reserveCapacity(voxelCount)
                for part in parts {
                    let v = part.shape[1]
                    row.append(contentsOf: part.floats[(i * v)..<((i + 1) * v)])
                }
                rows.append(row)
            }
            done = range.upperBound
            progress?.report(completed: done, total: stimulus.count, message: "Encoding")
        }
        let responses = try Tensor(shape: [stimulus.count, voxelCount], floats: rows.flatMap { $0 })
        var metadata = self.metadata
        if let note = preprocessing.cropNote(for: stimulus) { metadata["stimulus_crop"] = .string(note) }
        return EncodingResult(responses: ["responses": responses], metadata: metadata, stimulusNames: stimulus.names,
                              placement: placement)
    }
}

/// One checkpoint's network: the feature extractor (`best_params['enc']`) and one subject's
/// readout (`best_params['fwrfs'][subject]`).
struct FWRFNetwork: Sendable {
    /// BERG's state_dict names and their PyTorch shapes: the one table from checkpoint keys to
    /// the layers below. Keys ending in `num_batches_tracked` are allowed and ignored.
    static let trunkBlocks = ["conv4a", "conv4b", "conv5a", "conv5b", "conv6a", "conv6b"]
    static let encoderKeys: [(key: String, shape: [Int])] = {
        var keys: [(String, [Int])] = [
            ("mu", [1, 3, 1, 1]),
            ("pre.conv1.0.weight", [64, 3, 11, 11]), ("pre.conv1.0.bias", [64]),
            ("pre.conv2.0.weight", [192, 64, 5, 5]), ("pre.conv2.0.bias", [192]),
            ("enc.conv3.weight", [128, 192, 3, 3]), ("enc.conv3.bias", [128]),
        ]
        keys += batchNormKeys("enc.bn1", channels: 192)
        for block in trunkBlocks {
            let out = block == "conv6b" ? 64 : 128
            keys += [("enc.\(block).conv1.weight", [out, 128, 3, 3]), ("enc.\(block).conv1.bias", [out])]
            keys += batchNormKeys("enc.\(block).bn1", channels: 128)
        }
        return keys
    }()
    /// Feature maps: channels and side of F0, F1, F2.
    static let mapChannels = [256, 256, 256]
    static let mapSides = [27, 25, 13]
    static func readoutKeys(voxels v: Int) -> [(key: String, shape: [Int])] {
        [("rf0", [v, 27, 27]), ("rf1", [v, 25, 25]), ("rf2", [v, 13, 13]), ("w", [v, 768]), ("b", [v])]
    }

    static func batchNormKeys(_ prefix: String, channels c: Int) -> [(String, [Int])] {
        ["weight", "bias", "running_mean", "running_var"].map { ("\(prefix).\($0)", [c]) }
    }

    let mean: [Float]
    let conv1: Conv2d, conv2: Conv2d
    let bn1: BatchNorm2d, conv3: Conv2d
    /// conv4a … conv6b: BN then convolution, by block name.
    let blocks: [String: (bn: BatchNorm2d, conv: Conv2d)]
    let readout: FWRFReadout

    init(checkpoint: TorchCheckpoint, subject: Subject) throws {
        let path = checkpoint.path
        let enc = try FWRFNetwork.checked(checkpoint.stateDict(at: ["best_params", "enc"]),
                                          FWRFNetwork.encoderKeys, what: "\(path) [best_params/enc]")
        let fwrfs = try checkpoint.value(at: ["best_params", "fwrfs"])
        guard let readoutValue = fwrfs[subject.number] else {
            let subjects = fwrfs.dictionary?.map { $0.key.shortDescription }.joined(separator: ", ") ?? fwrfs.kindName
            throw BERGError.unexpectedContent(path: path, message: "best_params['fwrfs'] has no readout for subject \(subject) (it has: \(subjects)); the file belongs to another subject")
        }
        let readoutDict = try readoutValue.stateDict(path: "\(path) [best_params/fwrfs/\(subject)]")
        guard let bias = readoutDict["b"], bias.rank == 1 else {
            throw BERGError.unexpectedContent(path: path, message: "best_params['fwrfs'][\(subject)] has no 1-d 'b' (the readout bias, one value per voxel)")
        }
        let fw = try FWRFNetwork.checked(readoutDict, FWRFNetwork.readoutKeys(voxels: bias.shape[0]),
                                         what: "\(path) [best_params/fwrfs/\(subject)]")

        mean = try enc.tensor("mu").floats
        conv1 = try Conv2d(weight: enc.tensor("pre.conv1.0.weight"), bias: enc.tensor("pre.conv1.0.bias"), stride: 4, padding: 2)
        conv2 = try Conv2d(weight: enc.tensor("pre.conv2.0.weight"), bias: enc.tensor("pre.conv2.0.bias"), padding: 2)
        bn1 = try FWRFNetwork.batchNorm(enc, "enc.bn1")
        conv3 = try Conv2d(weight: enc.tensor("enc.conv3.weight"), bias: enc.tensor("enc.conv3.bias"))
        var blocks: [String: (bn: BatchNorm2d, conv: Conv2d)] = [:]
        for name in FWRFNetwork.trunkBlocks {
            blocks[name] = (try FWRFNetwork.batchNorm(enc, "enc.\(name).bn1"),
                            try Conv2d(weight: enc.tensor("enc.\(name).conv1.weight"),
                                       bias: enc.tensor("enc.\(name).conv1.bias"), padding: 1))
        }
        self.blocks = blocks
        readout = try FWRFReadout(receptiveFields: [fw.tensor("rf0"), fw.tensor("rf1"), fw.tensor("rf2")],
                                  weights: fw.tensor("w"), bias: fw.tensor("b"), channelCounts: FWRFNetwork.mapChannels)
    }

    /// A state_dict whose keys and shapes were checked against the table.
    struct CheckedWeights {
        let tensors: [String: Tensor]
        let what: String
        func tensor(_ key: String) throws -> Tensor {
            guard let t = tensors[key] else {
                throw BERGError.unexpectedContent(path: what, message: "missing key '\(key)'")
            }
            return t
        }
    }

    /// The entries of `table`, each present, float32 and of its shape; other keys are errors
    /// (except BatchNorm's `num_batches_tracked`), as PyTorch's strict `load_state_dict` has it.
    static func checked(_ dict: [String: Tensor], _ table: [(key: String, shape: [Int])], what: String) throws -> CheckedWeights {
        var out: [String: Tensor] = [:]
        for (key, shape) in table {
            guard let tensor = dict[key] else {
                throw BERGError.unexpectedContent(path: what, message: "missing key '\(key)' (expected shape \(shape)); this is not a checkpoint of BERG's fwRF network")
            }
            guard tensor.shape == shape else {
                throw BERGError.shapeMismatch(what: "\(what): key '\(key)'", expected: shape, actual: tensor.shape)
            }
            guard tensor.dtype == .float32 else {
                throw BERGError.unexpectedContent(path: what, message: "key '\(key)' is \(tensor.dtype.rawValue), expected float32")
            }
            out[key] = tensor
        }
        let known = Set(table.map(\.key))
        if let extra = dict.keys.sorted().first(where: { !known.contains($0) && !$0.hasSuffix("num_batches_tracked") }) {
            throw BERGError.unexpectedContent(path: what, message: "unexpected key '\(extra)' (shape \(dict[extra]?.shape ?? [])); this is not a checkpoint of BERG's fwRF network")
        }
        return CheckedWeights(tensors: out, what: what)
    }

    static func batchNorm(_ weights: CheckedWeights, _ prefix: String) throws -> BatchNorm2d {
        try BatchNorm2d(weight: weights.tensor("\(prefix).weight"), bias: weights.tensor("\(prefix).bias"),
                        runningMean: weights.tensor("\(prefix).running_mean"),
                        runningVar: weights.tensor("\(prefix).running_var"), eps: 1e-5)
    }

    /// F0, F1, F2 for uint8 images [n, 3, 227, 227].
    func featureMaps(_ images: Tensor) throws -> [Tensor] {
        try activations(ImageResize.toFloat(images, mean: mean)).featureMaps
    }

    /// The network's layers for x = image / 255 − mu [n, 3, 227, 227]; with `recording`, the
    /// max-pooling winners are kept too, for the input gradient.
    func activations(_ x: Tensor, recording: Bool = false) throws -> FWRFActivations {
        func pool(_ t: Tensor, padding: Size2) throws -> (Tensor, MaxPoolIndices?) {
            guard recording else { return (try Ops.maxPool2d(t, kernel: 3, stride: 2, padding: padding), nil) }
            let (out, indices) = try Ops.maxPool2dWithIndices(t, kernel: 3, stride: 2, padding: padding)
            return (out, indices)
        }
        let conv1Out = try conv1(x, relu: true)
        let (c1, pool1) = try pool(conv1Out, padding: 0)
        let y = try conv2(c1, relu: true)
        let c3 = try conv3(bn1(y), relu: true)
        func block(_ name: String, _ z: Tensor) throws -> Tensor {
            guard let b = blocks[name] else { throw BERGError.invalidInput("fwRF: no trunk block \(name)") }
            return try b.conv(b.bn(z), relu: true)
        }
        let c4a = try block("conv4a", c3)
        let c4b = try block("conv4b", c4a)
        let (c4bPooled, pool2) = try pool(c4b, padding: 1)
        let c5a = try block("conv5a", c4bPooled)
        let c5b = try block("conv5b", c5a)
        let c6a = try block("conv6a", c5b)
        return FWRFActivations(inputSize: Size2(x.shape[2], x.shape[3]), conv1: conv1Out, c1: c1, y: y, c3: c3,
                               c4a: c4a, c4b: c4b, c4bPooled: c4bPooled, c5a: c5a, c5b: c5b, c6a: c6a,
                               c6b: try block("conv6b", c6a), pool1: pool1, pool2: pool2)
    }

    /// Responses [n, V] for uint8 images [n, 3, 227, 227].
    func responses(_ images: Tensor) throws -> Tensor {
        try readout(featureMaps(images), threads: ComputeThreads.count)
    }
}
