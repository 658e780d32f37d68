import BERGAnalysis
import BERGCore
import BERGFormats
import BERGTestSupport
import Foundation
import XCTest

/// Our `.h5` RDM files opened by rsatoolbox itself (`load_rdm(path, file_type='hdf5')`), and
/// our RDMs and comparisons of fresh random data recomputed by rsatoolbox, live. Needs the
/// reference venv with rsatoolbox 0.3.2: `BERG_REFERENCE_PYTHON`, else
/// Tools/reference/.venv/bin/python. Without one the test is skipped, so `make test` needs no
/// Python; `make test-reference` sets `BERG_REQUIRE_REFERENCE=1`, which turns the skip into a
/// failure. (RDMFileTests checks the layout against an rsatoolbox-written fixture without Python.)
final class RSAReferenceTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The reference Python, or nil after recording a failure when one is required.
    func referencePython() throws -> String? {
        let python = ReferencePython.find(importing: "rsatoolbox", root: Self.root)
        if let path = python.path { return path }
        if ReferencePython.isRequired { XCTFail(python.reason); return nil }
        throw XCTSkip(python.reason)
    }

    func testRsatoolboxLoadsOurFilesAndAgrees() throws {
        guard let python = try referencePython() else { return }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-rsa-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        var generator = Xoshiro256StarStar(seed: 2026)
        let (n, p) = (37, 23)
        let values = (0..<(n * p)).map { i in Double(generator.next() >> 11) / Double(1 << 53) + Double(i % p) * 0.05 }
        let patterns = try Tensor(shape: [n, p], doubles: values)
        try NPYFile.write(patterns, to: folder.appendingPathComponent("patterns.npy").path)
        let correlation = try RDM(name: "correlation", patterns: patterns, measure: RDMMeasure(.correlation))
        let euclidean = try RDM(name: "sqeuclidean_per_unit", patterns: patterns, measure: RDMMeasure(.sqeuclidean, perUnit: true))
        let names = (0..<n).map { "stimulus \($0).png" }
        let set = try RDMSet(rdms: [correlation, euclidean], stimulusNames: names, measure: RDMMeasure(.correlation))
        try RDMFile.write(set, to: folder.appendingPathComponent("rdms.h5").path)
        var comparisons: [String: Double] = [:]
        for method in RDMComparisonMethod.allCases {
            comparisons[method.rsatoolboxName] = try RDMComparison(correlation, euclidean, method: method).value
        }
        try JSONSerialization.data(withJSONObject: comparisons).write(to: folder.appendingPathComponent("comparisons.json"))

        let script = Self.root.appendingPathComponent("Tools/reference/check_rsa_against_rsatoolbox.py").path
        let result = try ReferencePython.run(python, [script, folder.path])
        XCTAssertEqual(result.status, 0, result.output)
        guard result.status == 0, let line = result.output.split(separator: "\n").last,
              let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
        XCTAssertEqual(report["names"] as? [String], ["correlation", "sqeuclidean_per_unit"])
        XCTAssertEqual(report["stimulus_names"] as? [String], names)
        XCTAssertEqual(report["dissimilarity_measure"] as? String, "correlation")
        let errors = report["errors"] as! [String: Double]
        XCTAssertEqual(errors.count, 6, "\(errors)")
        for (what, error) in errors { XCTAssertLessThan(error, 1e-10, "\(what): relative error \(error)") }
    }
}
