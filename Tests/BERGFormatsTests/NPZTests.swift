import XCTest
import BERGCore
@testable import BERGFormats

final class NPZTests: XCTestCase {
    func testStoredAndDeflatedArchivesMatchNumPy() throws {
        for name in ["arrays.npz", "arrays_compressed.npz"] {
            let arrays = try NPZFile.read(PickleFixtures.path(name))
            XCTAssertEqual(Set(arrays.keys), ["weights", "bias", "labels"], name)
            for key in ["weights", "bias", "labels"] {
                assertSameTensor(arrays[key], try PickleFixtures.expected("npz.\(key)"), "\(name) \(key)")
            }
            XCTAssertEqual(arrays["labels"]?.dtype, .int32)
        }
        let zip = try ZipArchive(path: PickleFixtures.path("arrays_compressed.npz"))
        XCTAssertTrue(zip.entries.allSatisfy { $0.method == 8 }, "savez_compressed deflates")
    }
}
