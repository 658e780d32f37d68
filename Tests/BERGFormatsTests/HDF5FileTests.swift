import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class HDF5FileTests: XCTestCase {
    private let sample = IOFixtures.path("hdf5/h5py_sample.h5")

    private func expectedJSON() throws -> [String: Any] {
        let data = try IOFixtures.data("hdf5/h5py_sample.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every numeric dataset h5py wrote reads back with its dtype, shape and values.
    func testReadsDatasetsWrittenByH5py() throws {
        let file = try HDF5File(path: sample, mode: .read)
        let datasets = try XCTUnwrap(try expectedJSON()["datasets"] as? [String: [String: Any]])
        let dtypes: [String: DType] = ["float32": .float32, "float64": .float64, "int64": .int64, "int32": .int32,
                                       "uint8": .uint8, "bool": .bool]
        for (name, spec) in datasets where name != "group/nested/scalar" {
            let tensor = try file.read(name)
            XCTAssertEqual(tensor.shape, spec["shape"] as? [Int], name)
            XCTAssertEqual(tensor.dtype, dtypes[spec["dtype"] as? String ?? ""], name)
            let expected = try NPYFile.read(IOFixtures.path("hdf5/expected.\(name.replacingOccurrences(of: "/", with: ".")).npy"))
            XCTAssertEqual(tensor, expected, name)
        }
        XCTAssertEqual(try file.read("group/nested/scalar").scalar, 2.75)
        XCTAssertEqual(try file.info("compressed").shape, [100, 50])
    }

    func testReadsStringsAndAttributesWrittenByH5py() throws {
        let file = try HDF5File(path: sample, mode: .read)
        let json = try expectedJSON()
        let strings = try XCTUnwrap(json["strings"] as? [String: [String]])
        XCTAssertEqual(try file.readStrings("strings"), strings["strings"])
        XCTAssertEqual(try file.readStrings("fixed_strings"), strings["fixed_strings"])
        XCTAssertEqual(try file.attribute("model_id"), .string("fmri-test"))
        XCTAssertEqual(try file.attribute("count"), .int(3))
        XCTAssertEqual(try file.attribute("ratio"), .double(0.5))
        XCTAssertEqual(try file.attribute("flag"), .bool(true))
        XCTAssertEqual(try file.attribute("list"), .tensor(try Tensor(shape: [3], int64s: [1, 2, 3])))
        XCTAssertEqual(try file.attribute("names"), .strings(["x", "y"]))
        XCTAssertEqual(try file.attribute("nothing"), .empty)
        XCTAssertEqual(try file.attribute("unit", of: "group"), .string("mm"))
        XCTAssertEqual(Set(try file.attributeNames()), ["model_id", "count", "ratio", "flag", "list", "names", "nothing"])
        XCTAssertEqual(try file.kind(of: "group/nested"), .group)
        XCTAssertEqual(try file.kind(of: "strings"), .dataset)
        XCTAssertFalse(try file.exists("group/absent/deeper"))
        assertThrowsBERGError(try file.read("strings"))
        assertThrowsBERGError(try file.read("absent"))
    }

    /// An h5py file read as metadata: datasets, nested groups and attributes.
    func testReadsH5pyGroupAsMetadata() throws {
        let file = try HDF5File(path: sample, mode: .read)
        let metadata = try file.readMetadata(at: "/")
        XCTAssertEqual(metadata[path: "group/nested/scalar"], .double(2.75))
        XCTAssertEqual(metadata[path: "group/unit"], .string("mm"))
        XCTAssertEqual(metadata["strings"], .strings(["a", "béta", "c"]))
        XCTAssertEqual(metadata["model_id"], .string("fmri-test"))
        XCTAssertEqual(metadata.tensor("uint8"), try NPYFile.read(IOFixtures.path("hdf5/expected.uint8.npy")))
    }

    func testWriteReadRoundTripOfEveryType() throws {
        let path = try IOFixtures.scratchFolder(self) + "/round.h5"
        let tensors: KeyValuePairs<String, Tensor> = [
            "f32": try Tensor(shape: [2, 3], floats: [1, -2.5, .nan, 4, .infinity, 6]),
            "f64": try Tensor(shape: [2], doubles: [1e-300, -7]),
            "i64": try Tensor(shape: [3], int64s: [Int64.min, 0, Int64.max]),
            "i32": try Tensor(shape: [2], storage: .int32([-5, 7])),
            "i16": try Tensor(shape: [1], storage: .int16([-300])),
            "i8": try Tensor(shape: [2], storage: .int8([-128, 127])),
            "deep/u8": try Tensor(shape: [2, 2, 1], bytes: [0, 255, 3, 4]),
            "flags": try Tensor(shape: [3], storage: .bool([true, false, true])),
            "empty": try Tensor(shape: [0, 4], floats: []),
        ]
        do {
            let file = try HDF5File(path: path, mode: .create)
            for (name, tensor) in tensors { try file.write(tensor, at: name) }
            try file.writeStrings(["α", "", "long name with spaces"], at: "names")
            try file.setAttribute("title", .string("résumé"))
            try file.setAttribute("n", .int(-42))
            try file.setAttribute("x", .double(0.125), on: "deep/u8")
            try file.setAttribute("ok", .bool(false), on: "deep")
            try file.setAttribute("list", .strings(["p", "q"]))
            try file.setAttribute("title", .string("replaced"))
            try file.close()
        }
        let file = try HDF5File(path: path, mode: .read)
        for (name, tensor) in tensors {
            let back = try file.read(name)
            XCTAssertEqual(back.shape, tensor.shape, name)
            XCTAssertEqual(back.dtype, tensor.dtype, name)
            if case .float32(let a) = tensor.storage, case .float32(let b) = back.storage {
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), name) // NaN and inf kept
            } else {
                XCTAssertEqual(back, tensor, name)
            }
        }
        XCTAssertEqual(try file.readStrings("names"), ["α", "", "long name with spaces"])
        XCTAssertEqual(try file.attribute("title"), .string("replaced"))
        XCTAssertEqual(try file.attribute("n"), .int(-42))
        XCTAssertEqual(try file.attribute("x", of: "deep/u8"), .double(0.125))
        XCTAssertEqual(try file.attribute("ok", of: "deep"), .bool(false))
        XCTAssertEqual(try file.attribute("list"), .strings(["p", "q"]))
        XCTAssertEqual(try file.attributeNames(), ["n", "list", "title"])
        // Members come back in the order they were written.
        XCTAssertEqual(try file.children(), ["f32", "f64", "i64", "i32", "i16", "i8", "deep", "flags", "empty", "names"])
        assertThrowsBERGError(try file.write(try Tensor.zeros([1]), at: "readonly"))
        try file.close()

        // Reopened for writing: a dataset is replaced in place and the rest is kept.
        let edit = try HDF5File(path: path, mode: .readWrite)
        try edit.write(try Tensor(shape: [1], floats: [9]), at: "f32")
        try edit.close()
        let reread = try HDF5File(path: path, mode: .read)
        XCTAssertEqual(try reread.read("f32"), try Tensor(shape: [1], floats: [9]))
        XCTAssertEqual(try reread.readStrings("names"), ["α", "", "long name with spaces"])
    }

    /// Large datasets are chunked and gzip-compressed, and still read back exactly.
    func testCompressedWritingShrinksLargeDatasets() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let values = (0..<200_000).map { Float($0 % 100) }
        let tensor = try Tensor(shape: [400, 500], floats: values)
        for (name, compressed) in [("plain", false), ("packed", true)] {
            let file = try HDF5File(path: "\(dir)/\(name).h5", mode: .create)
            try file.write(tensor, at: "data", compressed: compressed)
            try file.close()
        }
        let plainSize = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: dir + "/plain.h5")[.size] as? Int)
        let packedSize = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: dir + "/packed.h5")[.size] as? Int)
        XCTAssertGreaterThan(plainSize, 800_000)
        XCTAssertLessThan(packedSize, plainSize / 10)
        XCTAssertEqual(try HDF5File(path: dir + "/packed.h5", mode: .read).read("data"), tensor)
        XCTAssertEqual(HDF5File.chunkShape([400, 500], elementSize: 4), [400, 500])
        XCTAssertEqual(HDF5File.chunkShape([4000, 500], elementSize: 4), [524, 500])
    }

    /// Metadata written as a group reads back equal, key order included.
    func testMetadataRoundTrip() throws {
        let path = try IOFixtures.scratchFolder(self) + "/meta.h5"
        var inner = Metadata()
        inner["voxel_indices"] = .tensor(try Tensor(shape: [4], int64s: [3, 1, 4, 1]))
        inner["roi"] = .string("V1")
        inner["nested"] = .group(Metadata([("flag", .bool(true)), ("nothing", .none)]))
        var metadata = Metadata()
        metadata["weights"] = .tensor(try Tensor(shape: [300, 300], floats: (0..<90_000).map { Float($0) * 0.5 }))
        metadata["subject"] = .int(1)
        metadata["scale"] = .double(0.25)
        metadata["fmri"] = .group(inner)
        metadata["names"] = .strings(["a", "b"])
        metadata["mask"] = .tensor(try Tensor(shape: [2, 2], bytes: [1, 0, 0, 1]))
        let file = try HDF5File(path: path, mode: .create)
        try file.writeMetadata(metadata, at: "metadata")
        try file.close()
        let back = try HDF5File(path: path, mode: .read).readMetadata(at: "metadata")
        XCTAssertEqual(back, metadata)
        XCTAssertEqual(back.keys, ["weights", "subject", "scale", "fmri", "names", "mask"])

        var bad = Metadata()
        bad["a/b"] = .int(1)
        assertThrowsBERGError(try HDF5File(path: path + "2", mode: .create).writeMetadata(bad, at: "m"))
    }

    func testBadFilesAndPathsThrowCleanly() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let missing = assertThrowsBERGError(try HDF5File(path: dir + "/absent.h5", mode: .read))
        XCTAssertEqual(missing, .fileNotFound(path: dir + "/absent.h5", hint: nil))
        try "not hdf5".write(toFile: dir + "/text.h5", atomically: true, encoding: .utf8)
        assertThrowsBERGError(try HDF5File(path: dir + "/text.h5", mode: .read))
        let unwritable = assertThrowsBERGError(try HDF5File(path: dir + "/no/such/folder/x.h5", mode: .create))
        if case .writeFailed? = unwritable {} else { XCTFail("expected writeFailed, got \(String(describing: unwritable))") }

        // A truncated copy fails on open or on read, never crashes.
        let whole = try IOFixtures.data("hdf5/h5py_sample.h5")
        for length in stride(from: 0, to: whole.count, by: 997) {
            let path = dir + "/cut.h5"
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            do {
                let file = try HDF5File(path: path, mode: .read)
                _ = try file.read("compressed")
                _ = try file.readStrings("strings")
                XCTFail("a file cut at \(length) of \(whole.count) bytes read without error")
            } catch is BERGError {
            } catch { XCTFail("non-BERG error \(error)") }
        }
    }

    /// A dataset that declares terabytes is refused before anything is allocated.
    func testHugeDeclaredDatasetIsRefused() throws {
        let file = try HDF5File(path: IOFixtures.path("hdf5/huge_declared.h5"), mode: .read)
        XCTAssertEqual(try file.info("huge").shape, [1_000_000, 1_000_000])
        let error = assertThrowsBERGError(try file.read("huge"))
        if case .limitExceeded? = error {} else { XCTFail("expected limitExceeded, got \(String(describing: error))") }
    }

    /// Serial libhdf5 is not thread-safe: the lock must make concurrent use safe.
    func testConcurrentReadsAndWrites() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let expected = try NPYFile.read(IOFixtures.path("hdf5/expected.compressed.npy"))
        let failures = ErrorCounter()
        let sample = self.sample
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            do {
                let reader = try HDF5File(path: sample, mode: .read)
                if try reader.read("compressed") != expected { failures.add() }
                let writer = try HDF5File(path: "\(dir)/t\(i).h5", mode: .create)
                try writer.write(expected, at: "copy", compressed: true)
                try writer.close()
                if try HDF5File(path: "\(dir)/t\(i).h5", mode: .read).read("copy") != expected { failures.add() }
            } catch { failures.add() }
        }
        XCTAssertEqual(failures.count, 0)
    }
}

final class ErrorCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add() { lock.lock(); value += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return value }
}
