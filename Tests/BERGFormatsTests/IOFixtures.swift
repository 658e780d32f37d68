import BERGCore
import BERGFormats
import Foundation
import XCTest

/// Paths to the fixtures Tools/reference/make_io_fixtures.py wrote, and scratch folders.
enum IOFixtures {
    static var root: String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("io").path
    }

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func data(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path(relative)))
    }

    /// A new empty folder, removed when the test ends.
    static func scratchFolder(_ test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("berg-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// A uint8 [H, W, 3] expected array as bytes plus its height and width.
    static func rgb(_ relative: String) throws -> (pixels: [UInt8], height: Int, width: Int) {
        let tensor = try NPYFile.read(path(relative))
        guard case .uint8(let bytes) = tensor.storage, tensor.rank == 3, tensor.shape[2] == 3 else {
            throw BERGError.unexpectedContent(path: relative, message: "expected uint8 [H,W,3]")
        }
        return (bytes, tensor.shape[0], tensor.shape[1])
    }

    /// HWC → CHW, the stimulus layout.
    static func chw(_ hwc: [UInt8], height: Int, width: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: hwc.count)
        for i in 0..<(height * width) { for c in 0..<3 { out[c * height * width + i] = hwc[3 * i + c] } }
        return out
    }
}

/// Asserts that `body` throws a BERGError (and not some other error), returning it.
@discardableResult
func assertThrowsBERGError<T>(_ body: @autoclosure () throws -> T, _ message: String = "",
                              file: StaticString = #filePath, line: UInt = #line) -> BERGError? {
    do {
        _ = try body()
        XCTFail("expected a BERGError \(message)", file: file, line: line)
        return nil
    } catch let error as BERGError {
        return error
    } catch {
        XCTFail("expected a BERGError, got \(error) \(message)", file: file, line: line)
        return nil
    }
}
