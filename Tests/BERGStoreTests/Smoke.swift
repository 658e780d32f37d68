import XCTest
final class BERGStoreTestsSmoke: XCTestCase { func testPlaceholder() {} }
