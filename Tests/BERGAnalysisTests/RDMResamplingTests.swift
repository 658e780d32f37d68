import BERGAnalysis
import BERGCore
import XCTest

/// Permutation p-values and the bootstrap behave as the issue asks, and are reproducible.
final class RDMResamplingTests: XCTestCase {
    func randomRDM(stimuli n: Int, seed: UInt64, name: String = "r") throws -> RDM {
        var generator = Xoshiro256StarStar(seed: seed)
        let values = (0..<(n * 8)).map { _ in Double(generator.next() >> 11) / Double(1 << 53) - 0.5 }
        return try RDM(name: name, patterns: try Tensor(shape: [n, 8], doubles: values), measure: RDMMeasure(.correlation))
    }

    func testNoisyCopyIsSignificant() throws {
        let a = try randomRDM(stimuli: 30, seed: 1)
        var generator = Xoshiro256StarStar(seed: 2)
        let noisy = try RDM(name: "noisy", stimulusCount: 30,
                            dissimilarities: a.dissimilarities.map { $0 + 0.1 * (Double(generator.next() >> 11) / Double(1 << 53) - 0.5) })
        let permutations = 200
        for method in RDMComparisonMethod.allCases {
            let test = try RDMComparison(a, noisy, method: method).permutationTest(permutations: permutations, seed: 5)
            XCTAssertGreaterThan(test.observed, 0.5, "\(method)")
            XCTAssertLessThanOrEqual(test.pValue, 2.0 / Double(permutations + 1), "\(method): p \(test.pValue)")
        }
    }

    func testUnrelatedRDMsGivePValuesSpreadOverTheUnitInterval() throws {
        for method in [RDMComparisonMethod.pearson, .spearman, .kendallTauA] {
            var pValues: [Double] = []
            for seed in 0..<40 {
                let a = try randomRDM(stimuli: 15, seed: UInt64(2 * seed + 100)), b = try randomRDM(stimuli: 15, seed: UInt64(2 * seed + 101))
                pValues.append(try RDMComparison(a, b, method: method).permutationTest(permutations: 99, seed: UInt64(seed)).pValue)
            }
            XCTAssertTrue(pValues.allSatisfy { $0 > 0 && $0 <= 1 }, "\(method): \(pValues)")
            XCTAssertLessThan(pValues.min()!, 0.15, "\(method): \(pValues)")
            XCTAssertGreaterThan(pValues.max()!, 0.85, "\(method): \(pValues)")
            let below = pValues.filter { $0 < 0.5 }.count
            XCTAssertTrue((10...30).contains(below), "\(method): \(below) of 40 below 0.5: \(pValues)")
        }
    }

    func testSeededAndReproducible() throws {
        let a = try randomRDM(stimuli: 20, seed: 7), b = try randomRDM(stimuli: 20, seed: 8)
        let comparison = try RDMComparison(a, b, method: .spearman)
        XCTAssertEqual(comparison.permutationTest(permutations: 300, seed: 42), comparison.permutationTest(permutations: 300, seed: 42))
        XCTAssertEqual(comparison.bootstrap(samples: 200, seed: 42), comparison.bootstrap(samples: 200, seed: 42))
        XCTAssertNotEqual(comparison.bootstrap(samples: 200, seed: 42).standardError,
                          comparison.bootstrap(samples: 200, seed: 43).standardError)
    }

    func testBootstrapSummary() throws {
        let a = try randomRDM(stimuli: 25, seed: 3)
        var generator = Xoshiro256StarStar(seed: 4)
        let b = try RDM(name: "b", stimulusCount: 25,
                        dissimilarities: a.dissimilarities.map { $0 + 0.4 * (Double(generator.next() >> 11) / Double(1 << 53) - 0.5) })
        let comparison = try RDMComparison(a, b, method: .pearson)
        let summary = comparison.bootstrap(samples: 500, seed: 9)
        XCTAssertEqual(summary.samples, 500)
        XCTAssertEqual(summary.undefined, 0)
        XCTAssertGreaterThan(summary.standardError, 0)
        XCTAssertLessThan(summary.standardError, 0.2)
        XCTAssertLessThan(summary.lower, comparison.value)
        XCTAssertGreaterThan(summary.upper, comparison.value)
        // Roughly ±1.96 standard errors wide.
        XCTAssertEqual((summary.upper - summary.lower) / (2 * 1.96 * summary.standardError), 1, accuracy: 0.35)
    }

    func testGeneratorIsUniformAndPermutes() {
        var generator = Xoshiro256StarStar(seed: 0)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[generator.uniform(below: 10)] += 1 }
        XCTAssertTrue(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        XCTAssertEqual(generator.permutation(50).sorted(), Array(0..<50))
        var first = Xoshiro256StarStar(seed: 1, stream: 1), second = Xoshiro256StarStar(seed: 1, stream: 2)
        XCTAssertNotEqual(first.permutation(20), second.permutation(20))
    }
}
