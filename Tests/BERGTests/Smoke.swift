import XCTest
final class BERGTestsSmoke: XCTestCase { func testPlaceholder() {} }
