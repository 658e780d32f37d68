import BERGCore
import Foundation

/// How two stimulus patterns a and b (P units each) are told apart.
public enum RDMMetric: String, Sendable, CaseIterable, Codable {
    /// 1 − Pearson r between the two patterns.
    case correlation
    /// √Σ(a−b)².
    case euclidean
    /// Σ(a−b)².
    case sqeuclidean
    /// 1 − cosine similarity.
    case cosine
}

/// A metric, and whether it is divided by the number of units P (`--per-unit`).
///
/// rsatoolbox's `calc_rdm(method='euclidean')` is Σ(a−b)²/P: `RDMMeasure(.sqeuclidean, perUnit: true)`.
public struct RDMMeasure: Sendable, Equatable, CustomStringConvertible {
    public var metric: RDMMetric
    public var perUnit: Bool

    public init(_ metric: RDMMetric, perUnit: Bool = false) {
        self.metric = metric
        self.perUnit = perUnit
    }

    /// `correlation`, `sqeuclidean per unit`, ...: what an RDM file records.
    public var description: String { metric.rawValue + (perUnit ? " per unit" : "") }

    /// Reads `description` back.
    public init?(description: String) {
        let perUnit = description.hasSuffix(" per unit")
        guard let metric = RDMMetric(rawValue: perUnit ? String(description.dropLast(9)) : description) else { return nil }
        self.init(metric, perUnit: perUnit)
    }
}

/// A representational dissimilarity matrix over N stimuli, kept as its condensed upper
/// triangle: the N(N−1)/2 entries (i, j), i < j, row by row, the order of SciPy's `squareform`
/// and of rsatoolbox's `RDMs.dissimilarities`.
public struct RDM: Sendable, Equatable {
    /// The layer or output the RDM was computed from.
    public var name: String
    public var stimulusCount: Int
    public var dissimilarities: [Double]

    public init(name: String, stimulusCount: Int, dissimilarities: [Double]) throws {
        guard stimulusCount >= 2 else {
            throw BERGError.invalidInput("An RDM needs at least 2 stimuli, \(name) has \(stimulusCount)")
        }
        guard dissimilarities.count == RDM.pairCount(stimulusCount) else {
            throw BERGError.shapeMismatch(what: "condensed RDM \(name) of \(stimulusCount) stimuli",
                                          expected: [RDM.pairCount(stimulusCount)], actual: [dissimilarities.count])
        }
        self.name = name
        self.stimulusCount = stimulusCount
        self.dissimilarities = dissimilarities
    }

    /// From a square [N, N] matrix: its upper triangle (the diagonal and lower triangle are not read).
    public init(name: String, square: Tensor) throws {
        guard square.rank == 2, square.shape[0] == square.shape[1] else {
            throw BERGError.shapeMismatch(what: "square RDM \(name)", expected: [square.shape.first ?? 0, square.shape.first ?? 0], actual: square.shape)
        }
        let n = square.shape[0], values = square.doubles
        var condensed: [Double] = []
        condensed.reserveCapacity(RDM.pairCount(n))
        for i in 0..<n { condensed.append(contentsOf: values[(i * n + i + 1) ..< (i * n + n)]) }
        try self.init(name: name, stimulusCount: n, dissimilarities: condensed)
    }

    /// N(N−1)/2.
    public static func pairCount(_ stimuli: Int) -> Int { stimuli * (stimuli - 1) / 2 }

    /// The number of stimuli whose condensed RDM has `pairs` entries, or nil when none has.
    public static func stimulusCount(pairs: Int) -> Int? {
        let n = Int((1 + (1 + 8 * Double(pairs)).squareRoot()) / 2 + 0.5)
        return pairCount(n) == pairs && n >= 2 ? n : nil
    }

    /// Where (i, j), i ≠ j, sits in the condensed vector.
    @inline(__always)
    public static func pairIndex(_ i: Int, _ j: Int, stimuli n: Int) -> Int {
        let (a, b) = i < j ? (i, j) : (j, i)
        return a * n - a * (a + 1) / 2 + (b - a - 1)
    }

    /// Entry (i, j); 0 on the diagonal.
    public subscript(i: Int, j: Int) -> Double {
        i == j ? 0 : dissimilarities[RDM.pairIndex(i, j, stimuli: stimulusCount)]
    }

    /// The full symmetric matrix, float64 [N, N], zeros on the diagonal.
    public var square: Tensor {
        let n = stimulusCount
        var values = [Double](repeating: 0, count: n * n)
        var k = 0
        for i in 0..<n {
            for j in (i + 1)..<n {
                values[i * n + j] = dissimilarities[k]
                values[j * n + i] = dissimilarities[k]
                k += 1
            }
        }
        return try! Tensor(shape: [n, n], doubles: values)
    }

    /// The RDM with its stimuli in `order` (entry (i, j) becomes entry (order[i], order[j]) of this one).
    public func reordered(_ order: [Int]) throws -> RDM {
        guard order.count == stimulusCount, Set(order) == Set(0..<stimulusCount) else {
            throw BERGError.invalidInput("A new order of \(name)'s stimuli must list each of 0..<\(stimulusCount) once")
        }
        var values: [Double] = []
        values.reserveCapacity(dissimilarities.count)
        for i in 0..<stimulusCount {
            for j in (i + 1)..<stimulusCount { values.append(self[order[i], order[j]]) }
        }
        return try RDM(name: name, stimulusCount: stimulusCount, dissimilarities: values)
    }
}

/// RDMs over the same stimuli with the same measure: the layers of a network, the outputs of
/// an encoding model, or one array. What an RDM `.h5` file holds.
public struct RDMSet: Sendable, Equatable {
    public var rdms: [RDM]
    /// One name per stimulus (empty when the input had none).
    public var stimulusNames: [String]
    /// nil when the file did not say (an RDM read from a plain `.npy`).
    public var measure: RDMMeasure?
    /// The PCA components each RDM's patterns were reduced to first, if any.
    public var pcaComponents: Int?

    public init(rdms: [RDM], stimulusNames: [String] = [], measure: RDMMeasure?, pcaComponents: Int? = nil) throws {
        guard let n = rdms.first?.stimulusCount else { throw BERGError.invalidInput("An RDM set needs at least one RDM") }
        for rdm in rdms where rdm.stimulusCount != n {
            throw BERGError.invalidInput("The RDMs of one set must share their stimuli: \(rdms[0].name) has \(n), \(rdm.name) has \(rdm.stimulusCount)")
        }
        guard stimulusNames.isEmpty || stimulusNames.count == n else {
            throw BERGError.shapeMismatch(what: "stimulus names of the RDMs", expected: [n], actual: [stimulusNames.count])
        }
        var seen = Set<String>()
        for rdm in rdms where !seen.insert(rdm.name).inserted {
            throw BERGError.invalidInput("Two RDMs are both named '\(rdm.name)'; RDM names must differ")
        }
        self.rdms = rdms
        self.stimulusNames = stimulusNames
        self.measure = measure
        self.pcaComponents = pcaComponents
    }

    public var stimulusCount: Int { rdms[0].stimulusCount }
    public var names: [String] { rdms.map(\.name) }
}
