import XCTest
final class bergCLITestsSmoke: XCTestCase { func testPlaceholder() {} }
