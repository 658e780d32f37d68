import XCTest
final class BERGModelsTestsSmoke: XCTestCase { func testPlaceholder() {} }
