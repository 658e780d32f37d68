import BERGCore
import BERGTestSupport
import Foundation
import XCTest
@testable import BERGFormats

/// Our GIfTI files read by nibabel (`nib.load(path).darrays`) and nilearn
/// (`surface.load_surf_data`), live. Needs the reference venv with nibabel and nilearn:
/// `BERG_REFERENCE_PYTHON`, else Tools/reference/.venv/bin/python. Skipped without one, so
/// `make test` needs no Python; `make test-reference` (BERG_REQUIRE_REFERENCE=1) fails instead.
final class GIfTIReferenceTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testNibabelAndNilearnReadOurGIfTI() throws {
        let reference = ReferencePython.find(importing: "nibabel, nilearn", root: Self.root)
        guard let python = reference.path else {
            if ReferencePython.isRequired { return XCTFail(reference.reason) }
            throw XCTSkip(reference.reason)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gii-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("r.lh.func.gii").path
        let vertices = 163_842
        let arrays: [[Float]] = (0..<3).map { i in (0..<vertices).map { v in v % 7 == 0 ? .nan : Float(v % 1000) * 0.01 - Float(i) } }
        try GIfTIFile.writeFunctional(arrays, names: ["a.png", "b.png", "c.png"], metadata: [("mesh", "fsaverage")], to: path, threads: 2)
        let script = """
        import json, sys, numpy as np, nibabel as nib
        from nilearn import surface
        image = nib.load(sys.argv[1])
        data = np.stack([d.data for d in image.darrays])
        loaded = surface.load_surf_data(sys.argv[1])
        print(json.dumps({"shape": list(data.shape), "dtype": str(data.dtype), "nilearn": list(loaded.shape),
                          "nan": int(np.isnan(data).sum()), "sum": float(np.nansum(data.astype(np.float64))),
                          "names": [d.meta["Name"] for d in image.darrays], "mesh": image.meta["mesh"]}))
        """
        let result = try ReferencePython.run(python, ["-c", script, path])
        XCTAssertEqual(result.status, 0, result.output)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], result.output)
        XCTAssertEqual(report["shape"] as? [Int], [3, vertices])
        XCTAssertEqual(report["dtype"] as? String, "float32")
        XCTAssertEqual(report["nilearn"] as? [Int], [vertices, 3])
        XCTAssertEqual(report["nan"] as? Int, arrays.joined().filter(\.isNaN).count)
        XCTAssertEqual(report["sum"] as? Double ?? 0, arrays.joined().filter { !$0.isNaN }.reduce(0) { $0 + Double($1) }, accuracy: 1e-3)
        XCTAssertEqual(report["names"] as? [String], ["a.png", "b.png", "c.png"])
        XCTAssertEqual(report["mesh"] as? String, "fsaverage")
    }
}
