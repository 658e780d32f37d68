import ArgumentParser
import BERG
import Foundation

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features", abstract: "Write a torchvision network's layer activations for images to an .h5 file.",
        discussion: """
        Examples:
          berg features --network alexnet --layer features.12 \\
              --input images/ --output acts.h5
          berg features --network resnet18 --layer layer3 --layer avgpool \\
              --weights my-resnet18.pth --input stimuli.npy --output acts.h5
          berg features --network vit_b_32 \\
              --layer encoder.layers.encoder_layer_11 --input images/ --output acts.h5

        Layers are PyTorch module names, as `named_modules()` lists them; each layer's value \
        is that module's output as a forward hook sees it, with PyTorch's shape (a convolution \
        followed by an in-place ReLU gives its output before the ReLU; containers give their \
        last child's output). An unknown name lists the valid ones.

        Weights default to torchvision's ImageNet files (alexnet-owt-7be5be79.pth, \
        resnet18-f37072fd.pth, vit_b_32-d86f8d99.pth), fetched into the cache on first use; \
        --weights takes a local torchvision state_dict. Images go through the network's \
        IMAGENET1K_V1 transform on uint8 pixels: the shorter side resized to 256, a centre \
        crop of 224, the ImageNet mean and std.

        The .h5 file holds one float32 dataset per layer, named as the layer, shaped [N, ...]; \
        stimulus_names; and attributes network, layers, weights, weights_sha256, preprocessing \
        and berg_version. `berg fit --features acts.h5 --layer NAME` reads it.
        """)

    @Option(help: ArgumentHelp("alexnet, resnet18 or vit_b_32.", valueName: "name"))
    var network: String

    @Option(help: ArgumentHelp("A local torchvision state_dict (.pth) instead of torchvision's ImageNet weights.", valueName: "file.pth"))
    var weights: String?

    @Option(name: .customLong("layer"), help: ArgumentHelp("A PyTorch module name such as features.12 (repeatable).", valueName: "name"))
    var layers: [String] = []

    @Option(help: "An image, a folder of images, a .npy uint8 array, or a text file listing images.")
    var input: String

    @Option(help: ArgumentHelp("The .h5 file to write.", valueName: "acts.h5"))
    var output: String

    @Option(help: "Images per batch.") var batchSize = 64

    @Option(help: "CPU threads for compute (default: BERG_NUM_THREADS, else all cores).", transform: ComputeOptions.threadCount)
    var threads: Int?

    @OptionGroup var store: StoreFlags

    func validate() throws {
        guard BERG.featureNetworks.contains(network) else {
            throw ValidationError("--network must be one of \(BERG.featureNetworks.joined(separator: ", ")), got '\(network)'")
        }
        guard !layers.isEmpty else { throw ValidationError("give at least one --layer (a PyTorch module name such as features.12)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        do { try BERG.checkThreadSetting(threads) } catch let error as BERGError { throw ValidationError(error.message) }
    }

    func run() throws {
        try BERG.configureThreads(threads)
        let berg = try BERG(storeOptions: store.storeOptions())
        let job = FeaturesJob(network: network, weights: weights, layers: layers, input: input, output: output, batchSize: batchSize)
        let progress = try ProgressDisplay.fromEnvironment()
        let summary = try berg.run(job, progress: progress)
        progress.end()
        let shapes = summary.shapes.map { "\($0.layer) \($0.shape)" }.joined(separator: ", ")
        writeStderr("wrote \(output) (\(shapes))\n")
    }
}
