import BERGAnalysis
import BERGCore
import BERGFormats
import XCTest

/// RDM files: our `.h5` layout against the one rsatoolbox 0.3.2's `RDMs.save` wrote, reading
/// rsatoolbox's files, and `.npy`.
final class RDMFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-rdm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func sampleSet() throws -> RDMSet {
        let input = try RDMInput(path: RSAFixtures.path("features.h5"))
        return try RDMSet(input: input, measure: RDMMeasure(.sqeuclidean, perUnit: true))
    }

    func testRoundTrip() throws {
        let set = try sampleSet()
        let path = folder.appendingPathComponent("rdms.h5").path
        try RDMFile.write(set, to: path, attributes: ["berg_version": "test"])
        let back = try RDMFile.read(path)
        XCTAssertEqual(back, set)
        XCTAssertEqual(back.measure, RDMMeasure(.sqeuclidean, perUnit: true))
        // One group per RDM holding its condensed triangle.
        let file = try HDF5File(path: path, mode: .read)
        for rdm in set.rdms {
            XCTAssertEqual(try file.read("\(rdm.name)/dissimilarities").doubles, rdm.dissimilarities)
        }
        XCTAssertEqual(try file.attribute("metric"), .string("sqeuclidean"))
        XCTAssertEqual(try file.readStrings("stimulus_names"), set.stimulusNames)
        // No temporary file left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["rdms.h5"])
    }

    /// Every dataset, group and attribute rsatoolbox's own file has, ours has too, with the
    /// same kind, element type and rank (fixed-length byte strings for descriptors).
    func testLayoutMatchesRsatoolboxSave() throws {
        let path = folder.appendingPathComponent("ours.h5").path
        try RDMFile.write(try sampleSet(), to: path)
        let ours = try HDF5File(path: path, mode: .read)
        let theirs = try HDF5File(path: RSAFixtures.path("rsatoolbox_saved.h5"), mode: .read)
        func walk(_ group: String) throws {
            for child in try theirs.children(of: group) {
                let name = group == "/" ? child : "\(group)/\(child)"
                XCTAssertTrue(try ours.exists(name), "ours lacks \(name)")
                guard try ours.exists(name) else { continue }
                XCTAssertEqual(try ours.kind(of: name), try theirs.kind(of: name), name)
                if try theirs.kind(of: name) == .group {
                    try walk(name)
                } else {
                    let a = try ours.info(name), b = try theirs.info(name)
                    XCTAssertEqual(a.dtype, b.dtype, name)
                    XCTAssertEqual(a.isString, b.isString, name)
                    XCTAssertEqual(a.shape.count, b.shape.count, name)
                    XCTAssertEqual(a.typeDescription.contains("variable"), b.typeDescription.contains("variable"), name)
                }
            }
        }
        try walk("/")
        XCTAssertTrue(try theirs.attributeNames().contains("dissimilarity_measure"))
        XCTAssertEqual(try ours.attribute("dissimilarity_measure"), .string("sqeuclidean per unit"))
        XCTAssertEqual(try ours.info("dissimilarities").shape, [3, 66])
    }

    func testReadsRsatoolboxFiles() throws {
        let set = try RDMFile.read(RSAFixtures.path("rsatoolbox_saved.h5"))
        XCTAssertEqual(set.names, ["features.0", "features.3"])
        XCTAssertEqual(set.stimulusNames, (0..<6).map { String(format: "img_%02d.png", $0) })
        XCTAssertEqual(set.measure, RDMMeasure(.correlation))
        XCTAssertEqual(set.stimulusCount, 6)
    }

    func testNPY() throws {
        let set = try sampleSet()
        let one = try RDMSet(rdms: [set.rdms[1]], stimulusNames: set.stimulusNames, measure: set.measure)
        let path = folder.appendingPathComponent("layer.npy").path
        try RDMFile.write(one, to: path)
        let square = try NPYFile.read(path)
        XCTAssertEqual(square.shape, [12, 12])
        XCTAssertEqual(square.dtype, .float64)
        XCTAssertEqual(try RDMFile.read(path).rdms[0].dissimilarities, set.rdms[1].dissimilarities)
        XCTAssertThrowsError(try RDMFile.write(set, to: folder.appendingPathComponent("all.npy").path)) { error in
            XCTAssertTrue((error as? BERGError)?.isUsageError == true, "\(error)")
        }
        // A square array that is no RDM (patterns, say) is refused.
        let patterns = folder.appendingPathComponent("patterns.npy").path
        try NPYFile.write(try Tensor(shape: [3, 3], doubles: [0, 1, 2, 3, 0, 4, 5, 6, 0]), to: patterns)
        XCTAssertThrowsError(try RDMFile.read(patterns)) { XCTAssertTrue("\($0)".contains("not symmetric"), "\($0)") }
        XCTAssertThrowsError(try RDMFile.read(RSAFixtures.path("features.h5"))) { XCTAssertTrue("\($0)".contains("not an RDM file"), "\($0)") }
    }
}
