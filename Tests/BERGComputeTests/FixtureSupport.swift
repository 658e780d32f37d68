import BERGCompute
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// Loads the fixtures Tools/reference/make_compute_fixtures.py wrote.
enum Fixtures {
    static var root: String { Bundle.module.resourcePath! + "/Fixtures" }

    static func cases(_ group: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(group)/cases.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
    }

    static func array(_ group: String, _ name: String) throws -> Tensor {
        try NPYFile.read("\(root)/\(group)/\(name).npy")
    }

    /// A state_dict stored as one .npy file per key (the plain test format).
    static func stateDict(_ net: String) throws -> [String: Tensor] {
        let dir = "\(root)/nets/\(net)/weights"
        var dict: [String: Tensor] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasSuffix(".npy") {
            dict[String(file.dropLast(4))] = try NPYFile.read("\(dir)/\(file)")
        }
        return dict
    }

    /// The expected node outputs stored for `net`.
    static func expectedOutputs(_ net: String) throws -> [String: Tensor] {
        let dir = "\(root)/nets/\(net)"
        var outs: [String: Tensor] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasPrefix("out.") {
            outs[String(file.dropFirst(4).dropLast(4))] = try NPYFile.read("\(dir)/\(file)")
        }
        return outs
    }

    static func exists(_ group: String, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(root)/\(group)/\(name).npy")
    }
}

/// Relative error as these tests measure it: max|a − b| over all elements, divided by
/// max|b| (the reference's largest magnitude, floored at 1e-6). One scale for the whole
/// tensor, so near-zero elements are judged against the tensor's own magnitude.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    let x = a.floats, y = b.floats
    var diff: Float = 0, scale: Float = 1e-6
    for i in 0..<min(x.count, y.count) {
        diff = max(diff, abs(x[i] - y[i]))
        scale = max(scale, abs(y[i]))
    }
    return diff.isNaN ? .infinity : diff / scale
}

func assertClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(label): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let err = relativeError(actual, expected)
    XCTAssertLessThanOrEqual(err, tolerance, "\(label): relative error \(err)", file: file, line: line)
}

extension Dictionary where Key == String, Value == Any {
    func size2(_ key: String) -> Size2 {
        let v = self[key] as! [Int]
        return Size2(v[0], v[1])
    }
    func int(_ key: String) -> Int { self[key] as! Int }
    func bool(_ key: String) -> Bool { self[key] as! Bool }
    func float(_ key: String) -> Float { Float(self[key] as! Double) }
}
