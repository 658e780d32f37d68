import XCTest
@testable import BERGCore

final class TensorTests: XCTestCase {
    func testReshapeKeepsElementsAndRejectsWrongCount() throws {
        let t = try Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try t.reshaped([3, 2]).shape, [3, 2])
        XCTAssertThrowsError(try t.reshaped([4, 2]))
    }
}
