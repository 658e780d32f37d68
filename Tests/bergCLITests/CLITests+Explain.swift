import BERG
import BERGFormats
import Foundation
import XCTest

/// `berg attribute` and `berg dream` as issue 17 spells them, on the built-in CSS pRF model
/// (no weights to fetch): the outputs' layouts, the completeness lines, determinism, and
/// usage errors (exit 2, one line).
extension CLITests {
    /// The checkerboard and white images of `writeImages` (the mean grey is a blank, where the
    /// pRF model's compressive exponent has no finite slope).
    func attributionImages() throws -> URL {
        let images = try writeImages()
        try FileManager.default.removeItem(at: images.appendingPathComponent("a-grey.png"))
        return images
    }

    func testAttributeWritesH5NPYAndPicture() throws {
        let images = try attributionImages()
        let h5 = work.appendingPathComponent("attr.h5"), picture = work.appendingPathComponent("attr.png")
        let run = try berg("attribute", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--voxels", "0,5,9",
                           "--input", images.path, "--output", h5.path, "--picture", picture.path,
                           "--steps", "8", "--method", "riemann_trapezoid", "--baseline", "black")
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertTrue(lines[0].hasPrefix("b-white.png: sum of attributions ") && lines[0].contains("f(x) - f(baseline) = "), run.stdout)

        let file = try HDF5File(path: h5.path, mode: .read)
        let attributions = try file.read("attributions")
        XCTAssertEqual(attributions.dtype, .float32)
        XCTAssertEqual(attributions.shape, [2, 3, 48, 48])
        XCTAssertEqual(try file.read("target").shape, [2])
        XCTAssertEqual(try file.read("baseline_target").shape, [2])
        XCTAssertEqual(try file.read("attribution_sum").dtype, .float64)
        XCTAssertEqual(try file.read("voxels").int64s, [0, 5, 9])
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["b-white.png", "c-checker.png"])
        XCTAssertEqual(try file.attribute("model_id"), .string("fmri-kay2013-css_prf"))
        XCTAssertEqual(try file.attribute("method"), .string("riemann_trapezoid"))
        XCTAssertEqual(try file.attribute("steps"), .int(8))
        XCTAssertEqual(try file.attribute("baseline"), .string("black"))
        // Σ attributions is what the file says, and what the line printed.
        let sums = try file.read("attribution_sum").doubles
        for i in 0..<2 {
            let plane = attributions.floats[(i * 3 * 48 * 48) ..< ((i + 1) * 3 * 48 * 48)]
            XCTAssertEqual(plane.reduce(0.0) { $0 + Double($1) }, sums[i], accuracy: 1e-6 * max(1, abs(sums[i])))
        }
        XCTAssertTrue(try Data(contentsOf: picture).starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")

        let npy = work.appendingPathComponent("attr.npy")
        XCTAssertEqual(try berg("attribute", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                                "--output", npy.path, "--steps", "4").status, 0)
        let raw = try NPYFile.read(npy.path)
        XCTAssertEqual(raw.dtype, .float32)
        XCTAssertEqual(raw.shape, [2, 3, 48, 48])
    }

    func testAttributeUsageErrors() throws {
        let images = try attributionImages()
        let out = work.appendingPathComponent("attr.npy").path
        func attribute(_ extra: String...) throws -> Run {
            try berg(["attribute", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path] + extra)
        }
        assertFails(try attribute("--output", out, "--method", "simpson"), status: 2, mentioning: "gausslegendre")
        assertFails(try attribute("--output", out, "--voxels", "0,x"), status: 2, mentioning: "--voxels")
        assertFails(try attribute("--output", out, "--voxels", "0,100000"), status: 2, mentioning: "0-based")
        assertFails(try attribute("--output", out, "--steps", "1", "--method", "riemann_trapezoid"), status: 2, mentioning: "--steps")
        assertFails(try attribute("--output", work.appendingPathComponent("attr.csv").path), status: 2, mentioning: ".npy")
        assertFails(try attribute("--output", out, "--baseline", work.appendingPathComponent("none.png").path), status: 2, mentioning: "black")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")
    }

    func testDreamIsDeterministicWithATrace() throws {
        func dream(_ name: String, seed: String) throws -> (png: Data, trace: String) {
            let png = work.appendingPathComponent("\(name).png"), trace = work.appendingPathComponent("\(name).csv")
            let run = try berg("dream", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--steps", "6", "--lr", "0.05",
                               "--seed", seed, "--size", "40", "--batch", "1", "--output", png.path, "--trace", trace.path)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stdout.hasPrefix("target: first step "), run.stdout)
            return (try Data(contentsOf: png), try String(contentsOf: trace, encoding: .utf8))
        }
        let a = try dream("a", seed: "3"), b = try dream("b", seed: "3"), c = try dream("c", seed: "4")
        XCTAssertEqual(a.png, b.png, "same seed, same bytes")
        XCTAssertEqual(a.trace, b.trace)
        XCTAssertNotEqual(a.png, c.png)
        let rows = a.trace.split(separator: "\n")
        XCTAssertEqual(rows.first, "step,target")
        XCTAssertEqual(rows.count, 7, a.trace)
        XCTAssertTrue(rows[1].hasPrefix("1,"))

        assertFails(try berg("dream", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--size", "8",
                             "--output", work.appendingPathComponent("x.png").path), status: 2, mentioning: "size")
        assertFails(try berg("dream", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1",
                             "--output", work.appendingPathComponent("x.jpg").path), status: 2, mentioning: ".png")
    }
}
