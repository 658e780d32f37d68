import XCTest
@testable import BERGCore

final class TensorTests: XCTestCase {
    func testReshapeKeepsElementsAndRejectsWrongCount() throws {
        let t = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try t.reshaped([3, 2]).shape, [3, 2])
        XCTAssertThrowsError(try t.reshaped([4, 2]))
    }

    /// A shape that does not fit the elements is an error naming both, never a trap.
    func testMismatchedShapeThrowsInsteadOfTrapping() {
        XCTAssertThrowsError(try Tensor(shape: [2, 2], floats: [1, 2, 3])) { error in
            XCTAssertEqual(error as? BERGError, .shapeMismatch(what: "tensor elements", expected: [2, 2], actual: [3]))
        }
        XCTAssertThrowsError(try Tensor(shape: [-1, -3], floats: [1, 2, 3]), "negative dimensions whose product fits")
        XCTAssertThrowsError(try Tensor.zeros([3, -1]))
        XCTAssertEqual(try Tensor.zeros([2, 0]).count, 0)
    }

    func testConversionsKeepValues() throws {
        let t = try Tensor(shape: [3], int64s: [1, -2, 3])
        XCTAssertEqual(t.floats, [1, -2, 3])
        XCTAssertEqual(t.asFloat32.dtype, .float32)
        XCTAssertEqual(t.asFloat32.shape, [3])
        XCTAssertEqual(try Tensor(shape: [], doubles: [2.5]).scalar, 2.5)
        XCTAssertNil(t.scalar)
    }
}
