import BERG
import BERGFormats
import BERGPlot
import Foundation
import XCTest

final class ResponsePictureTests: XCTestCase {
    let id = "fmri-kay2013-css_prf"
    let size = 128

    /// The retinotopy stimuli as one [N, 3, H, W] stimulus, and their names.
    func retinotopyStimulus() throws -> (Stimulus, [String]) {
        let images = RetinotopyStimuli.make(size: size)
        let plane = size * size
        var pixels = [UInt8](repeating: 0, count: images.count * 3 * plane)
        for (n, image) in images.enumerated() {
            for p in 0..<plane { for c in 0..<3 { pixels[(n * 3 + c) * plane + p] = image.rgb[p * 3 + c] } }
        }
        let names = images.map { $0.name + ".png" }
        return (try Stimulus(images: pixels, count: images.count, height: size, width: size, names: names), names)
    }

    func encodeRetinotopy() throws -> (EncodingResult, [String]) {
        let berg = try BERG()
        let model = try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"])
        let (stimulus, names) = try retinotopyStimulus()
        return (try berg.encode(model, stimulus), names)
    }

    func testNamesParseIntoFamilies() {
        XCTAssertEqual(RetinotopyStimuli.Family.parse("bar-x-5.png")?.family, .barX)
        XCTAssertEqual(RetinotopyStimuli.Family.parse("bar-x-5.png")?.step, 5)
        XCTAssertEqual(RetinotopyStimuli.Family.parse("stimuli/ring-0.png")?.family, .ring)
        XCTAssertEqual(RetinotopyStimuli.Family.parse("wedge-7")?.step, 7)
        XCTAssertNil(RetinotopyStimuli.Family.parse("cat-1.png"))
        XCTAssertNil(RetinotopyStimuli.Family.parse("ring.png"))
        XCTAssertNil(RetinotopyStimuli.Family.parse("ring-x.png"))
    }

    /// The maps the picture draws find each voxel's pRF, out to the edge of the field.
    func testPreferredPositionsRecoverThePRFs() throws {
        let (result, names) = try encodeRetinotopy()
        let x = result.metadata.tensor("prf_x_deg")!.floats.map(Double.init), y = result.metadata.tensor("prf_y_deg")!.floats.map(Double.init)
        let responses = result.responses["responses"]!.floats, voxels = x.count
        func preferred(_ family: RetinotopyStimuli.Family) -> [Double] {
            let images = names.enumerated().compactMap { i, name in
                RetinotopyStimuli.Family.parse(name).flatMap { $0.family == family ? (image: i, step: $0.step) : nil }
            }
            XCTAssertEqual(images.count, 8)
            return RetinotopyStimuli.preferredPositions(family, responses: responses, voxels: voxels, images: images, fieldRadius: 8.4)
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let eccentricity = zip(x, y).map { ($0 * $0 + $1 * $1).squareRoot() }

        let ring = preferred(.ring)
        XCTAssertTrue(ring.allSatisfy(\.isFinite))
        let outer = (0..<voxels).filter { eccentricity[$0] > 6 }, inner = (0..<voxels).filter { eccentricity[$0] < 0.5 }
        XCTAssertGreaterThan(median(outer.map { ring[$0] }), 5.5, "outer voxels prefer outer rings")
        XCTAssertLessThan(median(inner.map { ring[$0] }), 1, "foveal voxels prefer the central ring")
        // Voxels further out prefer rings further out, ring of pRFs by ring of pRFs.
        let levels = Set(eccentricity.map { ($0 * 1000).rounded() }).sorted()
        let means = levels.map { level in
            let members = (0..<voxels).filter { (eccentricity[$0] * 1000).rounded() == level }
            return members.map { ring[$0] }.reduce(0, +) / Double(members.count)
        }
        XCTAssertEqual(means, means.sorted(), "preferred eccentricity grows with pRF eccentricity")

        let wedge = preferred(.wedge)
        let angleErrors = (0..<voxels).map { v -> Double in
            let truth = atan2(y[v], x[v]) * 180 / .pi
            let d = abs(wedge[v] - truth).truncatingRemainder(dividingBy: 360)
            return min(d, 360 - d)
        }
        XCTAssertLessThan(median(angleErrors), 10)

        let barX = preferred(.barX), barY = preferred(.barY)
        let central = (0..<voxels).filter { eccentricity[$0] < 6 }
        XCTAssertLessThan(median(central.map { abs(barX[$0] - x[$0]) }), 0.6)
        XCTAssertLessThan(median(central.map { abs(barY[$0] - y[$0]) }), 0.6)
    }

    /// How many pixels of the picture show each of `map`'s colours exactly, by table index. A
    /// colour bar shows each colour on about one row; a voxel's disc shows its colour on many
    /// more pixels.
    func pixelsPerMapColour(in path: String, _ map: ColourMap) throws -> [Int: Int] {
        let picture = try ImageCodec.decode(path)
        var lookup: [Int: Int] = [:]
        for (i, c) in map.colours.enumerated() { lookup[Int(c.red) << 16 | Int(c.green) << 8 | Int(c.blue)] = i }
        var counts: [Int: Int] = [:]
        for p in stride(from: 0, to: picture.pixels.count, by: 3) {
            let key = Int(picture.pixels[p]) << 16 | Int(picture.pixels[p + 1]) << 8 | Int(picture.pixels[p + 2])
            if let i = lookup[key] { counts[i, default: 0] += 1 }
        }
        return counts
    }

    /// Table indices of `map` that fill at least 100 pixels: the colours of voxels, not of legends.
    func voxelColours(in path: String, _ map: ColourMap) throws -> [Int] {
        try pixelsPerMapColour(in: path, map).filter { $0.value >= 100 }.map(\.key).sorted()
    }

    /// The retinotopy picture: four maps whose eccentricity map runs from viridis' dark end (the
    /// centre) to its bright end (the edge of the field).
    func testRetinotopyPictureShowsTheMaps() throws {
        let (result, names) = try encodeRetinotopy()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-picture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("v1.png").path
        XCTAssertEqual(result.stimulusNames, names)
        try BERG.writeResponsePicture(result, to: path)
        let picture = try ImageCodec.decode(path)
        XCTAssertGreaterThan(picture.width, 600)
        XCTAssertGreaterThan(picture.height, 600, "two rows of two maps")
        // Eccentricity on viridis over 0…8.4°: voxels within about 3° and beyond 6.6° (index 200).
        let viridis = try voxelColours(in: path, .viridis)
        XCTAssertTrue(viridis.contains { $0 < 100 }, "central voxels: \(viridis)")
        XCTAssertTrue(viridis.contains { $0 > 200 }, "voxels near the edge of the field: \(viridis)")
        // The voxel discs use many distinct colours (a map, not a few flat patches).
        var colours = Set<Int>()
        for p in stride(from: 0, to: picture.pixels.count, by: 3) {
            colours.insert(Int(picture.pixels[p]) << 16 | Int(picture.pixels[p + 1]) << 8 | Int(picture.pixels[p + 2]))
        }
        XCTAssertGreaterThan(colours.count, 500)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["v1.png"], "no temporary file left")
    }

    /// One image: the picture shows the response over the field, not one flat colour.
    func testOneImageShowsItsResponseOverTheField() throws {
        let berg = try BERG()
        let model = try berg.getEncodingModel(id, subject: 1, selection: ["roi": "V1"])
        // Full contrast on the left half of the field, mean grey on the right.
        let side = 64, plane = side * side
        let pixels = (0..<3 * plane).map { i -> UInt8 in
            let column = (i % plane) % side, row = (i % plane) / side
            return column < side / 2 ? ((row / 4 + column / 4) % 2 == 0 ? 255 : 0) : 128
        }
        let result = try berg.encode(model, try Stimulus(images: pixels, count: 1, height: side, width: side, names: ["photo.jpg"]))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berg-one-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try BERG.writeResponsePicture(result, to: path)
        // The inferno scale runs from 0 to the strongest response: voxels on the left are bright,
        // those on the right dark, so the discs take many of the map's colours.
        let inferno = try voxelColours(in: path, .inferno)
        XCTAssertTrue(inferno.contains { $0 < 40 }, "dark (unstimulated) voxels: \(inferno)")
        XCTAssertTrue(inferno.contains { $0 > 200 }, "bright (stimulated) voxels: \(inferno)")
        XCTAssertGreaterThan(inferno.count, 5, "responses between the extremes")
    }

    func testAPictureNeedsVisualFieldPlacement() throws {
        let result = EncodingResult(responses: ["responses": try Tensor(shape: [1, 2], floats: [1, 2])], metadata: Metadata())
        let path = "/tmp/never-\(UUID().uuidString).png"
        XCTAssertThrowsError(try BERG.writeResponsePicture(result, to: path)) { error in
            guard case BERGError.unsupported(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("visual field"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

}
