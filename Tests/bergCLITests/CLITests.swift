import BERG
import BERGFormats
import BERGRegistry
import BERGStore
import Foundation
import XCTest

/// Runs the built `berg` binary as a subprocess and checks its output files, exit statuses
/// (0 success, 1 failure, 2 usage or invalid parameter) and one-line `error:` messages.
final class CLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("berg-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    /// The `berg` binary next to the test bundle (.build/debug/berg).
    static func binary() throws -> URL {
        var candidates: [URL] = []
        for bundle in [Bundle.main] + Bundle.allBundles {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("berg"))
            candidates.append(bundle.bundleURL.appendingPathComponent("berg"))
        }
        candidates.append(root.appendingPathComponent(".build/debug/berg"))
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw BERGError.fileNotFound(path: root.appendingPathComponent(".build/debug/berg").path,
                                         hint: "the CLI tests run the berg binary, which this test target depends on; build with `swift build --build-tests`")
        }
        return found
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    func berg(_ arguments: String..., environment: [String: String]? = nil) throws -> Run {
        try berg(environment: environment, arguments)
    }

    /// Runs `berg` in `directory` (default: the repository root) with `environment` on top of
    /// this process's.
    func berg(environment: [String: String]? = nil, directory: URL? = nil, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? Self.root
        // The given variables on top of this process's (which keep OPENBLAS_CORETYPE and the like).
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Asserts a failure: the status, and exactly one stderr line starting `error:` with `text`.
    func assertFails(_ run: Run, status: Int32, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, status, run.stderr, file: file, line: line)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("error: "), run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.contains(text), "\(run.stderr) should mention \(text)", file: file, line: line)
    }

    /// Three PNGs: mean grey (a blank), white, and a black-and-white checkerboard.
    func writeImages() throws -> URL {
        let folder = work.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let side = 48
        let grey = [UInt8](repeating: 128, count: side * side * 3)
        let white = [UInt8](repeating: 255, count: side * side * 3)
        var checker = grey
        for i in 0..<(side * side) { let v: UInt8 = ((i % side) / 6 + (i / side) / 6) % 2 == 0 ? 0 : 255; for c in 0..<3 { checker[i * 3 + c] = v } }
        try ImageCodec.writePNG(rgb: grey, width: side, height: side, to: folder.appendingPathComponent("a-grey.png").path)
        try ImageCodec.writePNG(rgb: white, width: side, height: side, to: folder.appendingPathComponent("b-white.png").path)
        try ImageCodec.writePNG(rgb: checker, width: side, height: side, to: folder.appendingPathComponent("c-checker.png").path)
        return folder
    }

    func testListAndJSON() throws {
        let text = try berg("list")
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("fmri-kay2013-css_prf"))
        let json = try berg("list", "--json")
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: String]]
        XCTAssertTrue(rows?.contains { $0["model_id"] == "fmri-kay2013-css_prf" } ?? false)
        XCTAssertEqual(try berg("list", "meg-*").stdout.split(separator: "\n").count, 1, "header only")
        let catalog = try berg("catalog")
        XCTAssertEqual(catalog.status, 0)
        let fmriLine = catalog.stdout.split(separator: "\n").first { $0.hasPrefix("fmri: ") }
        XCTAssertTrue(fmriLine?.contains("kay2013") ?? false, catalog.stdout)
    }

    func testDescribeAndCard() throws {
        let json = try berg("describe", "fmri-kay2013-css_prf", "--json")
        XCTAssertEqual(json.status, 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["model_id"] as? String, "fmri-kay2013-css_prf")
        let card = try berg("card", "fmri-kay2013-css_prf")
        XCTAssertEqual(card.stdout, try String(contentsOf: Self.root.appendingPathComponent("model_cards/fmri-kay2013-css_prf.md"), encoding: .utf8))
        assertFails(try berg("card"), status: 2, mentioning: "model id or --all")
        let cards = work.appendingPathComponent("cards")
        XCTAssertEqual(try berg("card", "--all", "--output", cards.path).status, 0)
        XCTAssertEqual(try String(contentsOf: cards.appendingPathComponent("fmri-kay2013-css_prf.md"), encoding: .utf8), card.stdout)
    }

    func testEncodeWritesFloat32NPY() throws {
        let images = try writeImages()
        let output = work.appendingPathComponent("out.npy")
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1",
                           "--input", images.path, "--output", output.path, "--batch-size", "2")
        XCTAssertEqual(run.status, 0, run.stderr)
        let tensor = try NPYFile.read(output.path)
        XCTAssertEqual(tensor.dtype, .float32)
        XCTAssertEqual(tensor.shape, [3, 288])
        let values = tensor.floats
        XCTAssertTrue(values[0..<288].allSatisfy { $0 == 0 }, "mean grey is a blank")
        XCTAssertTrue(values[288..<576].allSatisfy { $0 > 0.5 }, "full contrast drives every pRF")
        XCTAssertFalse(run.stderr.contains("\r"), "no progress bar when stderr is not a terminal")
    }

    func testEncodeWritesHDF5WithMetadata() throws {
        let images = try writeImages()
        // A wide image: centre-cropped on the way in, which the file records.
        try ImageCodec.writePNG(rgb: [UInt8](repeating: 255, count: 48 * 64 * 3), width: 64, height: 48,
                                to: images.appendingPathComponent("d-wide.png").path)
        let output = work.appendingPathComponent("out.h5")
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--select", "roi=V2",
                           "--input", images.path, "--output", output.path, "--metadata", "--device", "cpu", "--threads", "1")
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: output.path, mode: .read)
        XCTAssertEqual(try file.kind(of: "responses"), .dataset)
        XCTAssertEqual(try file.kind(of: "stimulus_names"), .dataset)
        XCTAssertEqual(try file.kind(of: "metadata"), .group)
        XCTAssertEqual(try file.kind(of: "metadata/prf_sigma_deg"), .dataset)
        XCTAssertEqual(try file.attribute("model_id"), .string("fmri-kay2013-css_prf"))
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["a-grey.png", "b-white.png", "c-checker.png", "d-wide.png"])
        XCTAssertEqual(try file.read("responses").shape, [4, 288])
        guard case .string(let notes) = try file.attribute("stimulus_crop") else { return XCTFail("no stimulus_crop") }
        XCTAssertTrue(notes.contains("centre-cropped") && notes.contains("d-wide.png") && notes.contains("64×48"), notes)
    }

    func testRetinotopyStimuliAndPicture() throws {
        let stimuli = work.appendingPathComponent("stimuli")
        XCTAssertEqual(try berg("stimuli", "retinotopy", "--output", stimuli.path, "--size", "64").status, 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: stimuli.path).sorted()
        XCTAssertEqual(names.count, 32)
        XCTAssertTrue(names.contains("ring-0.png") && names.contains("wedge-7.png") && names.contains("bar-y-3.png"))
        let picture = work.appendingPathComponent("v1.png")
        let run = try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", stimuli.path,
                           "--output", work.appendingPathComponent("v1.npy").path, "--picture", picture.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        let decoded = try ImageCodec.decode(picture.path)
        XCTAssertGreaterThan(decoded.width, 600, "two maps side by side")
        XCTAssertGreaterThan(decoded.height, 600, "two rows of maps: rings and wedges, then the bars")
    }

    func testMetadataJSON() throws {
        let run = try berg("metadata", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V3", "--json")
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let sigma = object?["prf_sigma_deg"] as? [String: Any]
        XCTAssertEqual(sigma?["shape"] as? [Int], [288])
        XCTAssertEqual((object?["selection"] as? [String: String])?["roi"], "V3")
    }

    func testErrorsAreOneLineWithTheRightStatus() throws {
        let images = try writeImages()
        let out = work.appendingPathComponent("out.npy").path
        assertFails(try berg("encode", "fmri-nope", "--subject", "1", "--input", images.path, "--output", out),
                    status: 2, mentioning: "Unknown model 'fmri-nope'")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V7", "--input", images.path, "--output", out),
                    status: 2, mentioning: "Invalid ROI 'V7' for fmri-kay2013-css_prf. Valid ROIs: V1, V2, V3, hV4")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path, "--output", out, "--bogus"),
                    status: 2, mentioning: "--bogus")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path, "--output", "out.txt"),
                    status: 2, mentioning: ".npy, .npz or .h5")
        assertFails(try berg("metadata", "fmri-kay2013-css_prf", "--subject", "1"), status: 2, mentioning: "'roi' is required")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1",
                             "--input", work.appendingPathComponent("missing").path, "--output", out),
                    status: 1, mentioning: "No such file")
        let corrupt = work.appendingPathComponent("corrupt.png")
        try Data("\u{89}PNG this is not a png".utf8).write(to: corrupt)
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", corrupt.path, "--output", out),
                    status: 1, mentioning: "corrupt.png")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                             "--output", "/nonexistent-folder/out.npy"),
                    status: 1, mentioning: "Cannot write /nonexistent-folder/out.npy")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                             "--output", out, "--device", "cuda"),
                    status: 1, mentioning: "cuda")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "failed runs write nothing")
    }

    func testRegistryCheckAndExtraFolders() throws {
        XCTAssertEqual(try berg("registry", "check", "registry").status, 0)
        let folder = work.appendingPathComponent("reg")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let text = try String(contentsOf: Self.root.appendingPathComponent("registry/fmri-kay2013-css_prf.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: fmri-extra")
            .write(to: folder.appendingPathComponent("fmri-extra.yaml"), atomically: true, encoding: .utf8)
        XCTAssertTrue(try berg("list", "--registry", folder.path).stdout.contains("fmri-extra"))
        var environment = ProcessInfo.processInfo.environment
        environment["BERG_REGISTRY_PATH"] = folder.path
        XCTAssertTrue(try berg("list", environment: environment).stdout.contains("fmri-extra"))

        try text.replacingOccurrences(of: "model_id: fmri-kay2013-css_prf", with: "model_id: fmri-bad")
            .replacingOccurrences(of: "  rings: 12", with: "  rings: twelve")
            .write(to: folder.appendingPathComponent("fmri-bad.yaml"), atomically: true, encoding: .utf8)
        assertFails(try berg("registry", "check", folder.path), status: 1, mentioning: "encoder.settings.rings")
    }

    /// The README's model table is `berg list --markdown` (run `make readme` to fix).
    func testReadmeModelTableIsCurrent() throws {
        let table = try berg("list", "--markdown").stdout
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains("<!-- models:begin -->\n" + table + "<!-- models:end -->"), "README model table is stale; run `make readme`")
    }
}

