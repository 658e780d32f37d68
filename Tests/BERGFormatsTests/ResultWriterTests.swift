import BERGCore
@testable import BERGFormats
import Foundation
import XCTest

final class ResultWriterTests: XCTestCase {
    private let attributes: [String: HDF5File.AttributeValue] = ["model_id": .string("fmri-test"), "subject": .int(1),
                                                                 "selection": .string("roi=V1"), "berg_version": .string("0.1.0")]

    private func result(_ responses: [String: Tensor]) throws -> EncodingResult {
        var metadata = Metadata()
        metadata["voxel_indices"] = .tensor(try Tensor(shape: [3], int64s: [4, 8, 15]))
        metadata["roi"] = .string("V1")
        return EncodingResult(responses: responses, metadata: metadata)
    }

    private var single: Tensor { get throws { try Tensor(shape: [2, 3], doubles: [1, 2, 3, 4, 5, 6]) } }

    func testNPYHoldsFloat32Responses() throws {
        let path = try IOFixtures.scratchFolder(self) + "/out.npy"
        try ResultWriter.write(result(["responses": single]), to: path, stimulusNames: ["a", "b"],
                               attributes: attributes, includeMetadata: true)
        let back = try NPYFile.read(path)
        XCTAssertEqual(back, try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
    }

    func testNPYRefusesSeveralOutputsAndPointsToH5() throws {
        let dir = try IOFixtures.scratchFolder(self)
        let error = assertThrowsBERGError(try ResultWriter.write(result(["lh": single, "rh": single]), to: dir + "/out.npy",
                                                                 stimulusNames: [], attributes: [:], includeMetadata: false))
        XCTAssertTrue(error?.message.contains(".h5") ?? false)
        XCTAssertTrue(error?.message.contains("lh, rh") ?? false)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    func testH5LayoutWithMetadata() throws {
        let path = try IOFixtures.scratchFolder(self) + "/out.h5"
        let input = try result(["responses": single])
        try ResultWriter.write(input, to: path, stimulusNames: ["a.png", "b.png"], attributes: attributes, includeMetadata: true)
        let file = try HDF5File(path: path, mode: .read)
        XCTAssertEqual(try file.read("responses"), try single.asFloat32)
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["a.png", "b.png"])
        for (key, value) in attributes { XCTAssertEqual(try file.attribute(key), value) }
        XCTAssertEqual(try file.readMetadata(at: "metadata"), input.metadata)
        XCTAssertEqual(try file.children(), ["responses", "stimulus_names", "metadata"])
    }

    func testH5NamedOutputsWithoutMetadata() throws {
        let path = try IOFixtures.scratchFolder(self) + "/out.hdf5"
        let rh = try Tensor(shape: [2, 1], floats: [7, 8])
        try ResultWriter.write(result(["rh": rh, "lh": single]), to: path, stimulusNames: [], attributes: attributes,
                               includeMetadata: false)
        let file = try HDF5File(path: path, mode: .read)
        XCTAssertEqual(try file.children(of: "responses"), ["lh", "rh"])
        XCTAssertEqual(try file.read("responses/lh"), try single.asFloat32)
        XCTAssertEqual(try file.read("responses/rh"), rh)
        XCTAssertFalse(try file.exists("metadata"))
        XCTAssertFalse(try file.exists("stimulus_names"))
    }

    /// Replacing an existing output is atomic: afterwards only the new file is there, no temp files.
    func testReplacesExistingFileAndLeavesNoTempFiles() throws {
        let dir = try IOFixtures.scratchFolder(self)
        try "old".write(toFile: dir + "/out.h5", atomically: true, encoding: .utf8)
        try ResultWriter.write(result(["responses": single]), to: dir + "/out.h5", stimulusNames: [], attributes: [:],
                               includeMetadata: false)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.h5"])
        XCTAssertEqual(try HDF5File(path: dir + "/out.h5", mode: .read).read("responses"), try single.asFloat32)
    }

    func testUnwritableOutputsAreCleanErrors() throws {
        let dir = try IOFixtures.scratchFolder(self)
        for path in [dir + "/missing/out.h5", dir + "/missing/out.npy"] {
            let error = assertThrowsBERGError(try ResultWriter.write(result(["responses": single]), to: path,
                                                                     stimulusNames: [], attributes: [:], includeMetadata: false))
            if case .writeFailed(let failed, _)? = error {
                XCTAssertEqual(failed, path)
            } else { XCTFail("expected writeFailed for \(path), got \(String(describing: error))") }
        }
        try FileManager.default.createDirectory(atPath: dir + "/taken.h5", withIntermediateDirectories: true)
        let folderNamed = assertThrowsBERGError(try ResultWriter.write(result(["responses": single]), to: dir + "/taken.h5",
                                                                       stimulusNames: [], attributes: [:], includeMetadata: false))
        if case .writeFailed? = folderNamed {} else { XCTFail("expected writeFailed, got \(String(describing: folderNamed))") }
        assertThrowsBERGError(try ResultWriter.write(result(["responses": single]), to: dir + "/out.csv",
                                                     stimulusNames: [], attributes: [:], includeMetadata: false))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["taken.h5"])
    }

    /// A result written a batch at a time gives the same bytes as written whole: `.npy` and
    /// `.h5` (no modification times are recorded, so equal data make equal files).
    func testStreamedFilesEqualWholeFilesByteForByte() throws {
        let dir = try IOFixtures.scratchFolder(self)
        // Large enough for compressed, chunked datasets of several chunks.
        let (n, v) = (300, 1100)
        let values = (0..<(n * v)).map { Float(($0 * 7919) % 1013) / 17 - 20 }
        let whole = try result(["responses": Tensor(shape: [n, v], floats: values)])
        let names = (0..<n).map { "image-\($0).png" }
        for ext in ["npy", "h5"] {
            let wholePath = dir + "/whole.\(ext)", streamedPath = dir + "/streamed.\(ext)"
            try ResultWriter.write(whole, to: wholePath, stimulusNames: names, attributes: attributes, includeMetadata: true)
            let writer = try ResultWriter.writer(for: streamedPath, count: n, outputs: ["responses"], attributes: attributes, includeMetadata: true)
            for start in stride(from: 0, to: n, by: 64) {
                let rows = Array(values[start * v ..< min(n, start + 64) * v])
                try writer.append(result(["responses": Tensor(shape: [min(n, start + 64) - start, v], floats: rows)]))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: streamedPath), "nothing appears before commit")
            try writer.finish(EncodingSummary(metadata: whole.metadata, stimulusNames: names, placement: nil))
            try writer.commit()
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: streamedPath)), try Data(contentsOf: URL(fileURLWithPath: wholePath)), ext)
        }
        // A writer discarded part-way leaves nothing behind.
        let writer = try ResultWriter.writer(for: dir + "/partial.h5", count: n, outputs: ["responses"], attributes: [:], includeMetadata: false)
        try writer.append(result(["responses": Tensor(shape: [1, v], floats: Array(values[0..<v]))]))
        writer.discard()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["streamed.h5", "streamed.npy", "whole.h5", "whole.npy"])
    }
}
