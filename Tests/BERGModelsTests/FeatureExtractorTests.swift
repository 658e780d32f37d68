import BERGCompute
import BERGCore
import BERGFormats
import BERGModels
import Foundation
import XCTest

/// Layer outputs by PyTorch module name against forward hooks on torchvision's own modules,
/// for reduced-width random networks (Tools/reference/make_features_fixtures.py).
final class FeatureExtractorTests: XCTestCase {
    static let folder = URL(fileURLWithPath: Bundle.module.resourcePath!).appendingPathComponent("Fixtures/features")
    static let weights: [TorchvisionNetwork: String] = [.alexnet: "alexnet-tiny.pth", .resnet18: "resnet18-tiny.pth", .vitB32: "vit-tiny.pth"]
    static let fixtureName: [TorchvisionNetwork: String] = [.alexnet: "alexnet", .resnet18: "resnet18", .vitB32: "vit"]

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// The fixture's module list: name → (shape or nil when the module never runs).
    static func modules(_ network: TorchvisionNetwork) throws -> [(name: String, shape: [Int]?)] {
        let data = try Data(contentsOf: folder.appendingPathComponent("modules.json"))
        let all = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]])
        return try XCTUnwrap(all[fixtureName[network]!]).map { ($0["name"] as! String, $0["shape"] as? [Int]) }
    }

    static func extractor(_ network: TorchvisionNetwork, layers: [String]) throws -> FeatureExtractor {
        try FeatureExtractor(network: network, weights: path(weights[network]!), layers: layers)
    }

    /// max |ours − theirs| over max |theirs|.
    static func relativeError(_ ours: Tensor, _ theirs: Tensor) -> Float {
        let a = ours.floats, b = theirs.floats
        var diff: Float = 0, scale: Float = 1e-6
        for (x, y) in zip(a, b) { diff = max(diff, abs(x - y)); scale = max(scale, abs(y)) }
        return diff.isNaN ? .infinity : diff / scale
    }

    func testModuleNamesAreTorchvisionsNamedModules() throws {
        for network in TorchvisionNetwork.allCases {
            let state = try TorchCheckpoint(path: Self.path(Self.weights[network]!)).stateDict()
            let names = try network.network(stateDict: state).moduleNames
            XCTAssertEqual(names, try Self.modules(network).map(\.name), "\(network)")
        }
    }

    /// Every module that runs gives PyTorch's shape; the ones whose values the fixture holds
    /// (all of AlexNet's and the ViT's, a spread of ResNet-18's) match within 1e-4 relative.
    func testEveryModuleAgainstForwardHooks() throws {
        let stimulus = try StimulusLoader.load(Self.path("stimuli.npy"))
        for network in TorchvisionNetwork.allCases {
            let listing = try Self.modules(network)
            let running = listing.filter { $0.shape != nil }
            let outputs = try Self.extractor(network, layers: running.map(\.name)).features(stimulus)
            let reference = try HDF5File(path: Self.path("\(Self.fixtureName[network]!).h5"), mode: .read)
            var compared = 0
            for (name, shape) in running {
                let ours = try XCTUnwrap(outputs[name], "\(network) \(name)")
                XCTAssertEqual(ours.shape, shape, "\(network) \(name)")
                guard try reference.exists(name) else { continue }
                let error = Self.relativeError(ours, try reference.read(name))
                XCTAssertLessThanOrEqual(error, 1e-4, "\(network) \(name)")
                compared += 1
            }
            XCTAssertGreaterThanOrEqual(compared, 19, "\(network): the fixture's layers")
        }
    }

    /// The in-place ReLU cases: a convolution's (or BatchNorm's) value is before its ReLU.
    func testOutputsBeforeInPlaceReLU() throws {
        let stimulus = try StimulusLoader.load(Self.path("stimuli.npy"))
        let alex = try Self.extractor(.alexnet, layers: ["features.0", "features.1"]).features(stimulus)
        XCTAssertTrue(alex["features.0"]!.floats.contains { $0 < 0 }, "features.0 is the convolution before its ReLU")
        XCTAssertEqual(alex["features.1"]!.floats, alex["features.0"]!.floats.map { max($0, 0) })
        let resnet = try Self.extractor(.resnet18, layers: ["bn1", "relu", "layer1.0.relu", "layer1.0"]).features(stimulus)
        XCTAssertTrue(resnet["bn1"]!.floats.contains { $0 < 0 })
        XCTAssertEqual(resnet["layer1.0.relu"]!, resnet["layer1.0"]!, "a block's relu keeps its second call's output")
    }

    /// Decoded image files (a PNG and a JPEG of different sizes) within 2e-3 of Pillow's decoding.
    func testImageFiles() throws {
        let runs = try StimulusLoader.loadRuns(Self.path("images"))
        XCTAssertEqual(runs.flatMap(\.names), ["a.png", "b.jpg"])
        for network in TorchvisionNetwork.allCases {
            let reference = try HDF5File(path: Self.path("\(Self.fixtureName[network]!).h5"), mode: .read)
            let layers = try reference.children(of: "images")
            XCTAssertFalse(layers.isEmpty)
            let extractor = try Self.extractor(network, layers: layers)
            let outputs = try runs.map { try extractor.features($0) }
            for layer in layers {
                let expected = try reference.read("images/" + layer)
                let joined = try Tensor(shape: expected.shape, floats: outputs.flatMap { $0[layer]!.floats })
                XCTAssertLessThanOrEqual(Self.relativeError(joined, expected), 2e-3, "\(network) \(layer)")
            }
        }
    }

    func testFlattenedFeaturesConcatenateLayersInOrder() throws {
        let stimulus = try StimulusLoader.load(Self.path("stimuli.npy"))
        let extractor = try Self.extractor(.alexnet, layers: ["classifier", "avgpool"])
        let outputs = try extractor.features(stimulus)
        let flat = try extractor.flattenedFeatures(stimulus)
        XCTAssertEqual(flat.shape, [2, 10 + 8 * 36])
        let values = flat.floats
        XCTAssertEqual(Array(values[0..<10]), Array(outputs["classifier"]!.floats[0..<10]))
        XCTAssertEqual(Array(values[10..<(10 + 288)]), Array(outputs["avgpool"]!.floats[0..<288]))
        XCTAssertEqual(Array(values[298..<308]), Array(outputs["classifier"]!.floats[10..<20]))
    }

    func testUnknownAndNeverRunModulesAreUsageErrors() throws {
        XCTAssertThrowsError(try Self.extractor(.resnet18, layers: ["layer5"])) { error in
            guard case BERGError.invalidArgument(let name, let value, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "layer")
            XCTAssertEqual(value, "layer5")
            XCTAssertTrue(message.contains("layer4.1.bn2") && message.contains("avgpool"), message)
            XCTAssertTrue((error as! BERGError).isUsageError)
        }
        XCTAssertThrowsError(try Self.extractor(.vitB32, layers: ["encoder.layers.encoder_layer_0.self_attention.out_proj"])) { error in
            XCTAssertTrue("\(error)".contains("never calls this module"), "\(error)")
        }
        XCTAssertThrowsError(try TorchvisionNetwork.named("vgg16")) { error in
            XCTAssertTrue("\(error)".contains("alexnet, resnet18, vit_b_32"), "\(error)")
        }
    }
}
