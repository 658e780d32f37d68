import BERGCompute
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// Reduced-width ResNet-18, AlexNet and ViT with random weights and BatchNorm statistics,
/// against torchvision's create_feature_extractor outputs (1e-4 relative, see `relativeError`).
final class NetworkTests: XCTestCase {
    let tolerance: Float = 1e-4

    func stateDict(_ net: String) throws -> [String: Tensor] { try Fixtures.stateDict(net) }
    func expectedOutputs(_ net: String) throws -> [String: Tensor] { try Fixtures.expectedOutputs(net) }

    func check(_ net: String, _ model: FeatureNetwork, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try NPYFile.read("\(Fixtures.root)/nets/\(net)/input.npy")
        let expected = try expectedOutputs(net)
        XCTAssertGreaterThan(expected.count, 4, file: file, line: line)
        let saved = ComputeThreads.count
        defer { ComputeThreads.configure(saved) }
        var worst: Float = 0
        defer { print("\(net): worst relative error \(worst) over \(expected.count) nodes") }
        for (backend, threads) in GEMMBackend.available.flatMap({ b in [1, 2].map { (b, $0) } }) {
            ComputeThreads.configure(threads)
            try GEMM.withBackend(backend) {
                // All nodes at once, then each node alone (exercises early exit and ReLU fusion choices).
                let all = try model.forward(x, outputs: Array(expected.keys))
                for (node, want) in expected {
                    let got = try XCTUnwrap(all[node], "\(net): node \(node) missing", file: file, line: line)
                    assertClose(got, want, tolerance: tolerance, "\(net) \(node) (\(backend), \(threads) threads)", file: file, line: line)
                    worst = max(worst, relativeError(got, want))
                    let alone = try model.forward(x, outputs: [node])
                    assertClose(try XCTUnwrap(alone[node]), want, tolerance: tolerance, "\(net) \(node) alone (\(backend))", file: file, line: line)
                }
            }
        }
    }

    func testResNet18() throws {
        let model = try ResNet18(stateDict: stateDict("resnet18"))
        XCTAssertEqual(model.featureCount, 48)
        try check("resnet18", model)
    }

    func testAlexNet() throws {
        try check("alexnet", try AlexNet(stateDict: stateDict("alexnet")))
    }

    func testVisionTransformer() throws {
        let model = try VisionTransformer(stateDict: stateDict("vit"), heads: 4)
        XCTAssertEqual(model.imageSize, 48)
        XCTAssertEqual(model.patch, 12)
        try check("vit", model)
    }

    func testMissingKeyAndWrongShapeNameTheKey() throws {
        var sd = try stateDict("resnet18")
        sd["layer2.0.bn1.running_var"] = nil
        XCTAssertThrowsError(try ResNet18(stateDict: sd)) { error in
            XCTAssertTrue("\(error)".contains("layer2.0.bn1.running_var"), "\(error)")
        }
        sd = try stateDict("resnet18")
        sd["layer1.0.conv2.weight"] = try Tensor.zeros([6, 5, 3, 3])
        XCTAssertThrowsError(try ResNet18(stateDict: sd)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("layer1.0.conv2.weight") && text.contains("[6, 5, 3, 3]") && text.contains("[-1, 6, -1, -1]"), text)
        }
        let vit = try VisionTransformer(stateDict: stateDict("vit"), heads: 4)
        XCTAssertThrowsError(try vit.forward(try Tensor.zeros([1, 3, 32, 32]), outputs: ["encoder.ln"]))
        XCTAssertThrowsError(try vit.forward(try Tensor.zeros([1, 3, 48, 48]), outputs: ["layer4"])) { error in
            XCTAssertTrue("\(error)".contains("encoder.layers.encoder_layer_1.add_1"), "lists the valid nodes: \(error)")
        }
    }
}
