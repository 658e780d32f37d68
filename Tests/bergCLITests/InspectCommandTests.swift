import Foundation
import XCTest

/// `berg inspect` on the fixtures Tools/reference/make_format_fixtures.py wrote.
extension CLITests {
    private func fixture(_ name: String) -> String {
        CLITests.root.appendingPathComponent("Tests/BERGFormatsTests/Fixtures/\(name)").path
    }

    func testInspectPrintsCheckpointStructureAndInertObjects() throws {
        let run = try berg("inspect", fixture("fwrf_checkpoint.pt"))
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("PyTorch checkpoint"), run.stdout)
        XCTAssertTrue(run.stdout.contains("conv.weight: tensor float32 [4, 3, 3, 3]"), run.stdout)
        XCTAssertTrue(run.stdout.contains("args.: object argparse.Namespace (inert)"), run.stdout)

        let hostile = try berg("inspect", fixture("os_system_p4.pkl"))
        XCTAssertEqual(hostile.status, 0, hostile.stderr)
        XCTAssertTrue(hostile.stdout.contains("weight: object posix.system (inert)"), hostile.stdout)
    }

    func testInspectJSONAndUnknownFiles() throws {
        let run = try berg("inspect", "--json", fixture("arrays_compressed.npz"))
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["format"] as? String, "NumPy .npz")
        let children = (object?["structure"] as? [String: Any])?["children"] as? [[String: Any]]
        XCTAssertEqual(children?.first?["name"] as? String, "weights")
        XCTAssertEqual(children?.first?["shape"] as? [Int], [3, 4])

        let unknown = work.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: unknown)
        assertFails(try berg("inspect", unknown.path), status: 1, mentioning: "unknown file format")
        let truncated = work.appendingPathComponent("cut.pt")
        try Data(try Data(contentsOf: URL(fileURLWithPath: fixture("tiny.pt"))).prefix(700)).write(to: truncated)
        assertFails(try berg("inspect", truncated.path), status: 1, mentioning: "cut.pt")
    }
}
