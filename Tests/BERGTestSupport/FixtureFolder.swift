import BERGCore
import Foundation
import XCTest

/// A test target's folder of reference fixtures.
public struct FixtureFolder: Sendable {
    public let root: URL
    public init(_ root: URL) { self.root = root }

    public func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
    public func path(_ relative: String) -> String { url(relative).path }

    /// A JSON object file.
    public func json(_ relative: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url(relative))) as? [String: Any])
    }
}

/// Columns `range` of a [N, V] tensor, row by row.
public func columns(_ t: Tensor, _ range: Range<Int>) -> [Float] {
    let values = t.floats, width = t.shape[1]
    return (0..<t.shape[0]).flatMap { row in values[row * width + range.lowerBound ..< row * width + range.upperBound] }
}

/// Each value within `relative` of the largest magnitude in `theirs` (so that values near zero
/// are judged on the scale of the output, not their own).
public func assertClose(_ ours: [Float], _ theirs: [Float], relative: Float, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ours.count, theirs.count, what, file: file, line: line)
    let scale = max(theirs.map(abs).max() ?? 1, 1e-6)
    var worst: Float = 0
    for (a, b) in zip(ours, theirs) { worst = max(worst, abs(a - b)) }
    XCTAssertLessThanOrEqual(worst / scale, relative, "\(what): worst difference \(worst) on a scale of \(scale)", file: file, line: line)
}
