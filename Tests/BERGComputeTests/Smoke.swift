import XCTest
final class BERGComputeTestsSmoke: XCTestCase { func testPlaceholder() {} }
