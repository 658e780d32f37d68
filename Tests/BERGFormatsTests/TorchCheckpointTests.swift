import XCTest
import BERGCore
@testable import BERGFormats

/// Paths of the fixtures Tools/reference/make_format_fixtures.py wrote, and the values torch,
/// NumPy and scikit-learn computed for them.
enum PickleFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    static func expected(_ name: String) throws -> Tensor { try NPYFile.read(path("expected/\(name).npy")) }
    static func data(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path(name))) }
}

func assertSameTensor(_ actual: Tensor?, _ expected: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { return XCTFail("\(what): no tensor", file: file, line: line) }
    XCTAssertEqual(actual.shape, expected.shape, "\(what) shape", file: file, line: line)
    XCTAssertEqual(actual.doubles, expected.doubles, "\(what) values", file: file, line: line)
}

final class TorchCheckpointTests: XCTestCase {
    func testBERGShapedCheckpointDecodesToTorchValues() throws {
        for name in ["fwrf_checkpoint.pt", "fwrf_checkpoint_archive.pt"] {
            let checkpoint = try TorchCheckpoint(path: PickleFixtures.path(name))
            XCTAssertEqual(checkpoint.format, .zip)
            let enc = try checkpoint.stateDict(at: ["best_params", "enc"])
            XCTAssertEqual(Set(enc.keys), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                           "bn.running_var", "bn.num_batches_tracked"])
            for (key, tensor) in enc {
                assertSameTensor(tensor, try PickleFixtures.expected("fwrf_enc.\(key)"), "\(name) enc \(key)")
            }
            XCTAssertEqual(enc["bn.num_batches_tracked"]?.dtype, .int64)
            XCTAssertEqual(enc["bn.num_batches_tracked"]?.shape, [])

            // fwrfs is keyed by the integer subject number.
            let fwrf = try XCTUnwrap(checkpoint.root["best_params"]?["fwrfs"]?[1]).stateDict()
            for key in ["rfs", "w", "b"] {
                assertSameTensor(fwrf[key], try PickleFixtures.expected("fwrf_fwrfs1.\(key)"), "fwrfs[1].\(key)")
            }
            XCTAssertEqual(try checkpoint.stateDict(at: ["best_params", "fwrfs", "1"]).count, 3)

            assertSameTensor(checkpoint.root["stim_mean"]?.tensor, try PickleFixtures.expected("fwrf_stim_mean"), "stim_mean")
            assertSameTensor(checkpoint.root["subject_val_cc"]?[1]?.tensor, try PickleFixtures.expected("fwrf_subject_val_cc"), "subject_val_cc")
            XCTAssertEqual(checkpoint.root["best_epoch"]?.int, 1)
            XCTAssertEqual(checkpoint.root["best_joint_cc_score"]?.double, 0.3)
            XCTAssertEqual(checkpoint.root["trn_hist"]?[1]?.double, 0.25)
            XCTAssertEqual(checkpoint.root["betas_info"]?[1]?["masterordering"]?.tensor?.int64s, [0, 1, 2, 3, 4, 5])

            // argparse.Namespace stays an inert object whose attributes can be read.
            let args = try XCTUnwrap(checkpoint.root["args."]?.object)
            XCTAssertEqual(args.className, "argparse.Namespace")
            XCTAssertEqual(checkpoint.root["args."]?["roi"]?.string, "V1")
            XCTAssertEqual(checkpoint.root["args."]?["trunk_width"]?.int, 64)
            XCTAssertThrowsError(try checkpoint.root["args."]!.requireTensor("args."))
        }
    }

    func testEveryDtypeAndStridedViews() throws {
        for name in ["dtypes.pt", "dtypes_bigendian.pt"] {
            let root = try TorchCheckpoint(path: PickleFixtures.path(name)).root
            for key in ["float32", "float16", "bfloat16", "float64", "int64", "int32", "uint8", "bool", "scalar",
                        "base", "transposed", "slice", "row", "empty"] {
                assertSameTensor(root[key]?.tensor, try PickleFixtures.expected("dtypes.\(key)"), "\(name) \(key)")
            }
            XCTAssertEqual(root["int64"]?.tensor?.int64s, [-3, 0, 1 << 40])
            XCTAssertEqual(root["int32"]?.tensor?.dtype, .int32)
            XCTAssertEqual(root["uint8"]?.tensor?.dtype, .uint8)
            XCTAssertEqual(root["bool"]?.tensor?.dtype, .bool)
            XCTAssertEqual(root["float16"]?.tensor?.dtype, .float32, "half floats widen to float32")
        }
    }

    func testRebuildTensorV3WithUntypedStorage() throws {
        let root = try TorchCheckpoint(path: PickleFixtures.path("dtypes_v3.pt")).root
        for key in ["uint16", "uint32"] {
            assertSameTensor(root[key]?.tensor, try PickleFixtures.expected("dtypes_v3.\(key)"), key)
            XCTAssertEqual(root[key]?.tensor?.dtype, .int64, "\(key) widens to int64")
        }
        // float8 has no Swift element type: it stays inert and is refused as weights.
        XCTAssertEqual(root["float8"]?.object?.className, "torch._utils._rebuild_tensor_v3")
        XCTAssertThrowsError(try root.stateDict()) { error in XCTAssertTrue("\(error)".contains("'float8'"), "\(error)") }
    }

    func testLegacyFormat() throws {
        let checkpoint = try TorchCheckpoint(path: PickleFixtures.path("legacy.pth"))
        XCTAssertEqual(checkpoint.format, .legacy)
        let state = try checkpoint.stateDict()
        XCTAssertEqual(state.count, 8)
        for (key, tensor) in state {
            assertSameTensor(tensor, try PickleFixtures.expected("legacy.\(key)"), "legacy \(key)")
        }
    }

    func testMissingPathNamesWhatIsThere() throws {
        let checkpoint = try TorchCheckpoint(path: PickleFixtures.path("fwrf_checkpoint.pt"))
        XCTAssertThrowsError(try checkpoint.stateDict(at: ["best_params", "nope"])) { error in
            XCTAssertTrue("\(error)".contains("enc"), "\(error)")
        }
    }
}
