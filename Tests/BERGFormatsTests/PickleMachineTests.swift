import XCTest
import BERGCore
@testable import BERGFormats

final class PickleMachineTests: XCTestCase {
    private func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func testEveryProtocolDecodesTheSameValues() throws {
        let expected = try JSONSerialization.jsonObject(with: PickleFixtures.data("values_expected.json")) as! [String: Any]
        for proto in 0...5 {
            let name = "values_p\(proto).pkl"
            let v = try PickleMachine.load(try PickleFixtures.data(name), path: name)
            XCTAssertEqual(v["int"]?.int, expected["int"] as? Int, name)
            XCTAssertEqual(v["neg"]?.int, expected["neg"] as? Int, name)
            XCTAssertEqual(v["float"]?.double, expected["float"] as? Double, name)
            XCTAssertEqual(v["str"]?.string, expected["str"] as? String, name)
            guard case .bigInt(let big)? = v["big"], case .bigInt(let negbig)? = v["negbig"] else { return XCTFail("\(name): big ints") }
            XCTAssertEqual(big, hexBytes(expected["big_le_hex"] as! String), name)
            XCTAssertEqual(negbig, hexBytes(expected["negbig_le_hex"] as! String), name)
            if proto >= 3 {
                guard case .bytes(let b)? = v["bytes"] else { return XCTFail("\(name): bytes") }
                XCTAssertEqual(Array(b), hexBytes(expected["bytes_hex"] as! String), name)
            }
            let list = try XCTUnwrap(v["list"]?.array, name)
            XCTAssertEqual(list.count, 5)
            XCTAssertEqual(list[1].string, "a")
            if case .none = list[2] {} else { XCTFail("\(name): None") }
            XCTAssertEqual(list[3].bool, true)
            XCTAssertEqual(v["tuple"]?[0]?.double, 1.5)
            // Shared references (memo GET) see the filled list.
            let shared = try XCTUnwrap(v["nested"]?["a"]?["b"]?["c"]?.array, name)
            XCTAssertEqual(shared.count, 2)
            XCTAssertEqual(shared[1][1]?.int, 2, name)
            guard case .set(let set)? = v["set"], case .frozenSet(let frozen)? = v["frozen"] else { return XCTFail("\(name): sets") }
            XCTAssertEqual(set.first?.int, 3)
            XCTAssertEqual(frozen.first?.int, 4)
            XCTAssertEqual(v["ordered"]?.dictionary?.map { $0.key.string ?? "" }, ["z", "y"], name)
            XCTAssertEqual(v["int_key"]?[5]?.string, "five")
            let longList = try XCTUnwrap(v["long_list"]?.array, name)
            XCTAssertEqual(longList.reduce(0) { $0 + ($1.int ?? 0) }, expected["long_list_sum"] as? Int, name)
        }
    }

    func testNumPyArraysInsidePickles() throws {
        for name in ["arrays_in_pickle.pkl", "arrays_in_pickle_p5.pkl"] {
            let v = try PickleMachine.load(try PickleFixtures.data(name), path: name)
            assertSameTensor(v["fortran"]?.tensor, try PickleFixtures.expected("fortran_order"), "Fortran-order array")
            assertSameTensor(v["big"]?.tensor, try PickleFixtures.expected("big_endian"), "big-endian float array")
            assertSameTensor(v["big_int"]?.tensor, try PickleFixtures.expected("big_endian_int"), "big-endian int array")
            XCTAssertEqual(v["u16"]?.tensor?.int64s, [1, 65535])
            XCTAssertEqual(v["scalar_f32"]?.double, 1.5)
            XCTAssertEqual(v["scalar_i64"]?.int, -9)
            XCTAssertEqual(v["scalar_i64"]?.tensor?.shape, [])
        }
    }

    func testPlainNPYFortranAndBigEndian() throws {
        assertSameTensor(try NPYFile.read(PickleFixtures.path("fortran_order.npy")), try PickleFixtures.expected("fortran_order"), "fortran .npy")
        assertSameTensor(try NPYFile.read(PickleFixtures.path("big_endian.npy")), try PickleFixtures.expected("big_endian"), "big-endian .npy")
        assertSameTensor(try NPYFile.read(PickleFixtures.path("big_endian_int.npy")), try PickleFixtures.expected("big_endian_int"), "big-endian int .npy")
    }

    func testNestedDictNPYAndMetadata() throws {
        let value = try NPYFile.readObject(PickleFixtures.path("metadata_nested_dict.npy"))
        assertSameTensor(value["fmri"]?["ncsnr"]?.tensor, try PickleFixtures.expected("meta.ncsnr"), "ncsnr")
        assertSameTensor(value["fmri"]?["voxel_indices"]?.tensor, try PickleFixtures.expected("meta.voxel_indices"), "voxel_indices")
        XCTAssertEqual(value["fmri"]?["roi_mask"]?.tensor?.dtype, .bool)
        XCTAssertEqual(value["encoding_models"]?["train_test"]?["n_images"]?.int, 73000)
        XCTAssertEqual(value["name"]?.string, "fmri-nsd-fwrf")

        let metadata = value.toMetadata()
        XCTAssertEqual(metadata.keys, ["fmri", "encoding_models", "subject", "name", "ratio", "flag", "missing", "sizes"])
        assertSameTensor(metadata.tensor("fmri/ncsnr"), try PickleFixtures.expected("meta.ncsnr"), "metadata ncsnr")
        assertSameTensor(metadata.tensor("fmri/roi_mask"), try PickleFixtures.expected("meta.roi_mask"), "metadata roi_mask")
        XCTAssertEqual(metadata[path: "fmri/rois"], .strings(["V1", "V2", "hV4"]))
        XCTAssertEqual(metadata[path: "encoding_models/train_test/r2"], .double(0.25))
        XCTAssertEqual(metadata[path: "encoding_models/train_test/n_images"], .int(73000))
        XCTAssertEqual(metadata["subject"], .int(1))
        XCTAssertEqual(metadata["ratio"], .double(0.5))
        XCTAssertEqual(metadata["flag"], .bool(true))
        XCTAssertEqual(metadata["missing"], MetadataValue.none)
        XCTAssertEqual(metadata["sizes"], .tensor(try Tensor(shape: [3], int64s: [1, 2, 3])))
    }

    func testStateDictNamesTheFirstNonTensorEntry() throws {
        let value = PickleValue.dict([(.string("w"), .tensor(try Tensor.zeros([2]))),
                                      (.string("args"), .object(PickleObject(module: "argparse", name: "Namespace")))])
        XCTAssertThrowsError(try value.stateDict()) { error in
            XCTAssertTrue("\(error)".contains("'args'"), "\(error)")
            XCTAssertTrue("\(error)".contains("argparse.Namespace"), "\(error)")
        }
    }

    func testStructureListsKeysShapesAndInertObjects() throws {
        let checkpoint = try TorchCheckpoint(path: PickleFixtures.path("fwrf_checkpoint.pt"))
        let text = checkpoint.root.structure().text()
        XCTAssertTrue(text.contains("conv.weight: tensor float32 [4, 3, 3, 3]"), text)
        XCTAssertTrue(text.contains("bn.num_batches_tracked: tensor int64 [] = 1"), text)
        XCTAssertTrue(text.contains("args.: object argparse.Namespace (inert)"), text)
        XCTAssertTrue(text.contains("roi: str = 'V1'"), text)
        let short = checkpoint.root.structure(maxChildren: 2).text()
        XCTAssertTrue(short.contains("… 9 more"), short)
    }

    func testOldStyleInstancesExtensionsAndPersistentIDsStayInert() throws {
        // INST and OBJ (protocols 0/1), EXT1, and a PERSID with no loader.
        let inst = try PickleMachine.load(Data("(I1\nI2\nimymod\nThing\n.".utf8), path: "inst")
        XCTAssertEqual(inst.object?.className, "mymod.Thing")
        XCTAssertEqual(inst.object?.args?[1]?.int, 2)
        let obj = try PickleMachine.load(Data("(cmymod\nThing\nI3\no.".utf8), path: "obj")
        XCTAssertEqual(obj.object?.className, "mymod.Thing")
        XCTAssertEqual(obj.object?.args?[0]?.int, 3)
        guard case .extensionCode(5) = try PickleMachine.load(Data([0x80, 0x02, 0x82, 0x05, 0x2E]), path: "ext") else {
            return XCTFail("EXT1")
        }
        guard case .persistentID(.string("key7")) = try PickleMachine.load(Data("Pkey7\n.".utf8), path: "persid") else {
            return XCTFail("PERSID")
        }
    }
}
