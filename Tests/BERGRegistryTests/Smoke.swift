import XCTest
final class BERGRegistryTestsSmoke: XCTestCase { func testPlaceholder() {} }
