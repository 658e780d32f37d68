import BERGCore
import BERGFormats
import BERGModels
import BERGRegistry
import BERGStore
import Foundation

public typealias FeatureExtractor = BERGModels.FeatureExtractor
public typealias TorchvisionNetwork = BERGModels.TorchvisionNetwork

/// One `berg features` run: a torchvision network, the layers to read by PyTorch module name,
/// the images, and the activations file to write.
public struct FeaturesJob: Sendable {
    /// `alexnet`, `resnet18` or `vit_b_32`.
    public var network: String
    /// A local torchvision state_dict (`.pth`); nil for torchvision's ImageNet weights, fetched
    /// through the store like any artifact.
    public var weights: String?
    /// PyTorch module names, as `named_modules()` lists them.
    public var layers: [String]
    /// An image, a folder of images, a text file listing images, or a uint8 `.npy` array.
    public var input: String
    /// The `.h5` file to write (`ActivationsFile`'s layout).
    public var output: String
    public var batchSize: Int

    public init(network: String, weights: String? = nil, layers: [String], input: String, output: String, batchSize: Int = 64) {
        self.network = network
        self.weights = weights
        self.layers = layers
        self.input = input
        self.output = output
        self.batchSize = batchSize
    }
}

/// What a features run wrote.
public struct FeaturesSummary: Sendable {
    public var network: String
    /// Layer → shape [N, ...].
    public var shapes: [(layer: String, shape: [Int])]
    public var stimulusNames: [String]
    public var weights: String
    public var weightsSHA256: String
}

extension BERG {
    /// The torchvision networks `berg features` reads, by name.
    public static var featureNetworks: [String] { TorchvisionNetwork.allCases.map(\.rawValue) }

    /// The PyTorch module names of a network's layers (`named_modules()` order) for a
    /// torchvision state_dict; `weights` nil reads torchvision's ImageNet file.
    public func featureLayers(network: String, weights: String? = nil) throws -> [String] {
        let kind = try TorchvisionNetwork.named(network)
        let file = try featureWeights(kind, weights)
        return try kind.network(stateDict: TorchCheckpoint(path: file.path).stateDict()).moduleNames
    }

    /// Checks a features job before any work: the network, that layers are given, the batch
    /// size, the output's extension and folder, and that the input and weights exist.
    public func check(_ job: FeaturesJob) throws {
        _ = try TorchvisionNetwork.named(job.network)
        guard !job.layers.isEmpty else {
            throw BERGError.invalidArgument(name: "layer", value: "", message: "give at least one layer (a PyTorch module name such as features.12)")
        }
        guard job.batchSize >= 1 else {
            throw BERGError.invalidArgument(name: "batch size", value: String(job.batchSize), message: "must be at least 1")
        }
        guard ["h5", "hdf5"].contains(URL(fileURLWithPath: job.output).pathExtension.lowercased()) else {
            throw BERGError.invalidArgument(name: "output", value: job.output, message: "activations are written to an HDF5 file; name it .h5")
        }
        try BERG.checkWritable(job.output)
        guard FileManager.default.fileExists(atPath: job.input) else {
            throw BERGError.fileNotFound(path: job.input, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        if let weights = job.weights, !FileManager.default.fileExists(atPath: weights) {
            throw BERGError.fileNotFound(path: weights, hint: "--weights takes a torchvision state_dict saved with torch.save (.pth)")
        }
    }

    /// Runs a features job: each layer's output for every image, written batch by batch to
    /// the job's `.h5` (one float32 dataset per layer, [N, ...] as PyTorch gives it), with the
    /// stimulus names and the provenance (network, weights and their SHA-256, preprocessing,
    /// BERG version). Nothing is left at the output path on failure.
    @discardableResult
    public func run(_ job: FeaturesJob, progress: ProgressReporter? = nil) throws -> FeaturesSummary {
        try check(job)
        let network = try TorchvisionNetwork.named(job.network)
        let weightsFile = try featureWeights(network, job.weights)
        let extractor = try FeatureExtractor(network: network, weights: weightsFile.path, layers: job.layers)
        let source = try StimulusLoader.source(job.input, threads: BERG.threadCount)
        let sha256 = try ArtifactStore.sha256(of: weightsFile)
        let preprocessing = String(decoding: try JSONEncoder.sortedKeys.encode(extractor.preprocessing), as: UTF8.self)
        var names: [String] = []
        var shapes: [(String, [Int])] = []
        try ResultWriter.writeHDF5File(to: job.output) { file in
            var offset = 0
            while offset < source.count {
                for run in try source.load(offset ..< min(offset + job.batchSize, source.count)) {
                    guard case .images(let batch) = run else { continue }  // unreadable files are errors here
                    let outputs = try extractor.features(batch)
                    if shapes.isEmpty {
                        for layer in extractor.layers {
                            let shape = [source.count] + outputs[layer]!.shape.dropFirst()
                            try file.createFloatDataset(layer, shape: shape)
                            shapes.append((layer, shape))
                        }
                    }
                    for layer in extractor.layers { try file.writeRows(outputs[layer]!, at: layer, startingAt: offset) }
                    names += batch.names
                    offset += batch.count
                    progress?.report(completed: offset, total: source.count, message: "images")
                }
            }
            try file.writeStrings(names, at: "stimulus_names")
            try ActivationsFile.write(ActivationsFile.Provenance(
                network: network.rawValue, layers: extractor.layers, weights: job.weights.map { Self.absolutePath($0) } ?? network.weightsURL,
                weightsSHA256: sha256, preprocessing: preprocessing, bergVersion: BERG.version), to: file)
        }
        return FeaturesSummary(network: network.rawValue, shapes: shapes, stimulusNames: names,
                               weights: job.weights ?? network.weightsURL, weightsSHA256: sha256)
    }

    /// A local weights file as given, or torchvision's ImageNet file from the store.
    func featureWeights(_ network: TorchvisionNetwork, _ weights: String?) throws -> URL {
        if let weights {
            guard FileManager.default.fileExists(atPath: weights) else {
                throw BERGError.fileNotFound(path: weights, hint: "--weights takes a torchvision state_dict saved with torch.save (.pth)")
            }
            return URL(fileURLWithPath: weights)
        }
        let artifact = Artifact(name: "backbone", source: .https, url: network.weightsURL,
                                description: "torchvision's ImageNet \(network.rawValue) weights (IMAGENET1K_V1)")
        return try artifactStore.localFile(for: artifact, owner: "berg features --network \(network.rawValue)")
    }

    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

extension JSONEncoder {
    /// Sorted keys, no escaped slashes: stable text for attributes and summaries.
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
