import BERGAnalysis
import BERGCore
import XCTest

/// Comparisons against `rsatoolbox.rdm.compare` 0.3.2 ('corr', 'spearman', 'tau-a', 'cosine').
final class RDMComparisonTests: XCTestCase {
    static let rsatoolboxNames: [RDMComparisonMethod: String] = [.pearson: "corr", .spearman: "spearman", .kendallTauA: "tau-a", .cosine: "cosine"]

    func testAgainstRsatoolbox() throws {
        let expected = try RSAFixtures.json("compare.json") as! [String: [String: Double]]
        for testCase in ["continuous", "ties"] {
            let a = try RSAFixtures.rdm("compare_\(testCase)_a.npy"), b = try RSAFixtures.rdm("compare_\(testCase)_b.npy")
            for method in RDMComparisonMethod.allCases {
                XCTAssertEqual(method.rsatoolboxName, Self.rsatoolboxNames[method])
                let value = try RDMComparison(a, b, method: method).value
                let reference = expected[testCase]![method.rsatoolboxName]!
                XCTAssertEqual(value, reference, accuracy: 1e-12 * max(1, abs(reference)), "\(testCase) \(method)")
            }
        }
    }

    func testRelabellingAndBootstrapSamplesAgainstRsatoolbox() throws {
        let fixture = try RSAFixtures.json("resampling.json")
        let permutations = fixture["permutations"] as! [[Int]], samples = fixture["samples"] as! [[Int]]
        let permuted = fixture["permuted"] as! [String: [Double]], bootstrapped = fixture["bootstrapped"] as! [String: [Double]]
        let a = try RSAFixtures.rdm("compare_continuous_a.npy"), b = try RSAFixtures.rdm("compare_continuous_b.npy")
        for method in RDMComparisonMethod.allCases {
            let comparison = try RDMComparison(a, b, method: method)
            for (i, order) in permutations.enumerated() {
                XCTAssertEqual(comparison.permuted(order), permuted[method.rsatoolboxName]![i], accuracy: 1e-12, "\(method) relabelling \(i)")
            }
            for (i, sample) in samples.enumerated() {
                XCTAssertEqual(comparison.bootstrapped(sample), bootstrapped[method.rsatoolboxName]![i], accuracy: 1e-12, "\(method) bootstrap sample \(i)")
            }
        }
    }

    /// τ-a by its definition, O(n²): Σ sign(Δx)·sign(Δy) over all pairs / number of pairs.
    func bruteForceTauA(_ x: [Double], _ y: [Double]) -> Double {
        var sum = 0
        for i in x.indices {
            for j in (i + 1)..<x.count {
                let dx = x[i] < x[j] ? -1 : (x[i] > x[j] ? 1 : 0)
                let dy = y[i] < y[j] ? -1 : (y[i] > y[j] ? 1 : 0)
                sum += dx * dy
            }
        }
        return Double(sum) / Double(x.count * (x.count - 1) / 2)
    }

    func testTauAMatchesItsDefinitionWithHeavyTies() throws {
        var generator = Xoshiro256StarStar(seed: 11)
        for (n, levels) in [(25, 3), (40, 7), (31, 1000), (12, 1)] {
            let pairs = n * (n - 1) / 2
            let x = (0..<pairs).map { _ in Double(generator.uniform(below: levels)) * 0.5 }
            let y = (0..<pairs).map { i in Double(generator.uniform(below: levels)) + (i % 3 == 0 ? x[i] : 0) }
            let a = try RDM(name: "a", stimulusCount: n, dissimilarities: x), b = try RDM(name: "b", stimulusCount: n, dissimilarities: y)
            XCTAssertEqual(try RDMComparison(a, b, method: .kendallTauA).value, bruteForceTauA(x, y), accuracy: 1e-14, "n \(n), \(levels) levels")
        }
    }

    func testNaNPairsAreLeftOut() throws {
        var x: [Double] = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2], y: [Double] = [0.2, 1.0, 0.4, 0.3, 0.8, 0.1]
        let full = try RDMComparison(try RDM(name: "a", stimulusCount: 4, dissimilarities: x),
                                     try RDM(name: "b", stimulusCount: 4, dissimilarities: y), method: .pearson).value
        x[4] = .nan
        let withNaN = try RDMComparison(try RDM(name: "a", stimulusCount: 4, dissimilarities: x),
                                        try RDM(name: "b", stimulusCount: 4, dissimilarities: y), method: .pearson).value
        x.remove(at: 4)
        y.remove(at: 4)
        let mx: Double = x.reduce(0, +) / 5, my: Double = y.reduce(0, +) / 5
        var xy = 0.0, xx = 0.0, yy = 0.0
        for k in x.indices {
            xy += (x[k] - mx) * (y[k] - my)
            xx += (x[k] - mx) * (x[k] - mx)
            yy += (y[k] - my) * (y[k] - my)
        }
        let r = xy / (xx.squareRoot() * yy.squareRoot())
        XCTAssertEqual(withNaN, r, accuracy: 1e-14)
        XCTAssertNotEqual(withNaN, full)
    }

    func testDifferentStimulusCountsAreRefused() throws {
        let a = try RDM(name: "a", stimulusCount: 4, dissimilarities: [1, 2, 3, 4, 5, 6])
        let b = try RDM(name: "b", stimulusCount: 3, dissimilarities: [1, 2, 3])
        XCTAssertThrowsError(try RDMComparison(a, b, method: .spearman)) { error in
            XCTAssertTrue("\(error)".contains("4 stimuli against 3"), "\(error)")
        }
    }

    func testSetsAreMatchedByStimulusName() throws {
        let patterns = try RSAFixtures.array("patterns.npy")
        let a = try RDM(name: "a", patterns: patterns, measure: RDMMeasure(.correlation))
        let names = (0..<12).map { "s\($0)" }
        let order = [3, 1, 0, 2, 11, 10, 9, 8, 7, 6, 5, 4]
        let first = try RDMSet(rdms: [a], stimulusNames: names, measure: nil)
        // The same RDM with its stimuli listed in another order.
        let shuffled = try RDMSet(rdms: [try a.reordered(order)], stimulusNames: order.map { names[$0] }, measure: nil)
        let result = try first.compare(with: shuffled, method: .pearson)
        XCTAssertEqual(result.count, 1)
        XCTAssertEqual(result[0].value, 1, accuracy: 1e-12)
        let stranger = try RDMSet(rdms: [a], stimulusNames: names.map { $0 + "x" }, measure: nil)
        XCTAssertThrowsError(try first.compare(with: stranger, method: .pearson)) { error in
            XCTAssertTrue("\(error)".contains("different stimuli"), "\(error)")
        }
    }
}

/// Rank methods on values that tie only in their leading bits (the sort orders them by their
/// leading 32 bits first), against ranks from a plain sort.
final class RDMRankingTests: XCTestCase {
    /// SciPy's rankdata(method='average') by sorting.
    func averageRanks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var ranks = [Double](repeating: 0, count: x.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && x[order[end]] == x[order[start]] { end += 1 }
            for p in start..<end { ranks[order[p]] = Double(start + end + 1) / 2 }
            start = end
        }
        return ranks
    }

    func testNearTiesAndExactTies() throws {
        var generator = Xoshiro256StarStar(seed: 99)
        let n = 60, pairs = 60 * 59 / 2
        // Clusters of values a few ulps apart, exact repeats, a far outlier that widens the
        // range (so that the 32-bit keys cannot tell the cluster apart), negatives and zeros.
        let x: [Double] = (0..<pairs).map { i in
            switch i % 5 {
            case 0: return 1 + Double(generator.uniform(below: 1000)) * 1e-15
            case 1: return 0.25
            case 2: return i == 2 ? 1e6 : -0.0
            case 3: return -Double(generator.uniform(below: 50)) / 7
            default: return Double(generator.next() >> 11) / Double(1 << 53)
            }
        }
        let y = (0..<pairs).map { _ in Double(generator.uniform(below: 40)) }
        let a = try RDM(name: "a", stimulusCount: n, dissimilarities: x), b = try RDM(name: "b", stimulusCount: n, dissimilarities: y)
        let spearman = try RDMComparison(a, b, method: .spearman).value
        let rx = averageRanks(x), ry = averageRanks(y)
        let mx = rx.reduce(0, +) / Double(pairs), my = ry.reduce(0, +) / Double(pairs)
        var xy = 0.0, xx = 0.0, yy = 0.0
        for k in 0..<pairs {
            xy += (rx[k] - mx) * (ry[k] - my)
            xx += (rx[k] - mx) * (rx[k] - mx)
            yy += (ry[k] - my) * (ry[k] - my)
        }
        XCTAssertEqual(spearman, xy / (xx.squareRoot() * yy.squareRoot()), accuracy: 1e-12)
        // τ-a against its definition on the same values.
        var sum = 0
        for i in 0..<pairs {
            for j in (i + 1)..<pairs {
                let dx = x[i] < x[j] ? -1 : (x[i] > x[j] ? 1 : 0), dy = y[i] < y[j] ? -1 : (y[i] > y[j] ? 1 : 0)
                sum += dx * dy
            }
        }
        XCTAssertEqual(try RDMComparison(a, b, method: .kendallTauA).value, Double(sum) / Double(pairs * (pairs - 1) / 2), accuracy: 1e-14)
    }
}
