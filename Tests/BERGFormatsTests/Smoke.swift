import XCTest
final class BERGFormatsTestsSmoke: XCTestCase { func testPlaceholder() {} }
