@testable import BERG
import BERGFormats
import Foundation
import XCTest

/// The RDM picture: stimuli ordered by a labels table, block means for large RDMs, one titled
/// panel per RDM.
final class RDMPictureTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-rdm-picture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func table(_ text: String) throws -> String {
        let path = folder.appendingPathComponent("labels-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Six stimuli whose dissimilarity is |a − b| of a hidden value per stimulus.
    func set(names: [String] = ["a", "b", "c", "d", "e", "f"]) throws -> RDMSet {
        let hidden: [Double] = [3, 1, 2, 1, 3, 2]
        var values: [Double] = []
        for i in 0..<6 { for j in (i + 1)..<6 { values.append(abs(hidden[i] - hidden[j])) } }
        return try RDMSet(rdms: [RDM(name: "layer", stimulusCount: 6, dissimilarities: values)], stimulusNames: names,
                          measure: RDMMeasure(.euclidean))
    }

    func testLabelsMatchedByNameColumnInAnyRowOrder() throws {
        let path = try table("file,group\nf,z\nb,x\nzzz,extra\na,z\nd,x\nc,y\ne,z\n")
        XCTAssertEqual(try RDMPicture.stimulusLabels(path, for: set()), ["z", "x", "y", "x", "z", "z"])
        // Stably sorted: x (b, d), y (c), z (a, e, f).
        XCTAssertEqual(RDMPicture.sortedOrder(["z", "x", "y", "x", "z", "z"]), [1, 3, 2, 0, 4, 5])
        // Numbers sort as numbers.
        XCTAssertEqual(RDMPicture.sortedOrder(["10", "9", "2.5"]), [2, 1, 0])
    }

    func testLabelsInStimulusOrderTakeTheLastColumn() throws {
        let path = try table("index,category\n0,face\n1,body\n2,face\n3,body\n4,tool\n5,face\n")
        XCTAssertEqual(try RDMPicture.stimulusLabels(path, for: set(names: [])), ["face", "body", "face", "body", "tool", "face"])
        XCTAssertThrowsError(try RDMPicture.stimulusLabels(try table("category\nface\nbody\n"), for: set(names: []))) { error in
            XCTAssertTrue("\(error)".contains("2 rows of labels for 6 stimuli"), "\(error)")
        }
    }

    func testOrderedBlocksAndPicture() throws {
        let rdms = try set()
        let labels = try RDMPicture.stimulusLabels(try table("name,value\na,3\nb,1\nc,2\nd,1\ne,3\nf,2\n"), for: rdms)
        let order = RDMPicture.sortedOrder(labels)
        XCTAssertEqual(order, [1, 3, 2, 5, 0, 4])
        // Ordered by the hidden value, equal stimuli sit together: 0 within a block.
        let cells = RDMPicture.blockMeans(rdms.rdms[0], order: order, cells: 6)
        XCTAssertEqual(cells[0 * 6 + 1], 0)
        XCTAssertEqual(cells[2 * 6 + 3], 0)
        XCTAssertEqual(cells[0 * 6 + 5], 2)
        // Two cells a side: block means of the ordered matrix.
        let halves = RDMPicture.blockMeans(rdms.rdms[0], order: order, cells: 2)
        // The first block holds the stimuli with values 1, 1, 2: |a − b| sums to 4 over 9 cells.
        XCTAssertEqual(halves[0], Float(4.0 / 9), accuracy: 1e-6)

        let path = folder.appendingPathComponent("rdm.png").path
        try BERG.writeRDMPicture(rdms, to: path, labels: try table("name,value\na,3\nb,1\nc,2\nd,1\ne,3\nf,2\n"))
        let png = try ImageCodec.decode(path)
        XCTAssertGreaterThanOrEqual(png.width, 320)
        XCTAssertGreaterThanOrEqual(png.height, 300)
        // The viridis extremes of the heat map are there (0 on the diagonal, the largest value).
        let colours = Set(stride(from: 0, to: png.pixels.count, by: 3).map { [png.pixels[$0], png.pixels[$0 + 1], png.pixels[$0 + 2]] })
        XCTAssertTrue(colours.contains([0x44, 0x01, 0x54]), "viridis' first colour")
        XCTAssertTrue(colours.contains([0xFD, 0xE7, 0x25]), "viridis' last colour")
    }
}
