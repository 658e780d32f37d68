import BERGAnalysis
import BERGCore
import BERGFormats
import Foundation
import XCTest

/// The fixtures Tools/reference/make_rsa_fixtures.py wrote (rsatoolbox 0.3.2, SciPy,
/// scikit-learn, h5py, nibabel).
enum RSAFixtures {
    static var root: String { Bundle.module.resourcePath! + "/Fixtures/rsa" }

    static func path(_ name: String) -> String { "\(root)/\(name)" }

    static func array(_ name: String) throws -> Tensor { try NPYFile.read(path(name)) }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(name)))) as! [String: Any]
    }

    /// A condensed reference RDM as an `RDM`.
    static func rdm(_ name: String) throws -> RDM {
        let values = try array(name).doubles
        return try RDM(name: name, stimulusCount: RDM.stimulusCount(pairs: values.count)!, dissimilarities: values)
    }
}

/// max|a − b| / max|b|: one scale for the whole vector, as the "1e-6 relative" reads.
func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count, !b.isEmpty else { return .infinity }
    var diff = 0.0, scale = 0.0
    for i in a.indices {
        diff = max(diff, abs(a[i] - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return diff.isNaN ? .infinity : diff / max(scale, 1e-300)
}

func assertRelativelyClose(_ a: [Double], _ b: [Double], _ tolerance: Double = 1e-6, _ label: String,
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(label): length", file: file, line: line)
    let error = maxRelativeError(a, b)
    XCTAssertLessThan(error, tolerance, "\(label): max relative error \(error)", file: file, line: line)
}
