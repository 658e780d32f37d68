import BERGCore
import Foundation

/// One line of `berg rsa compare`: RDM `a` of the first set against RDM `b` of the second.
public struct RDMComparisonResult: Sendable, Equatable, Encodable {
    public var a: String
    public var b: String
    public var method: RDMComparisonMethod
    public var value: Double
    /// With permutations: the permutation p-value.
    public var p: Double?
    /// With a bootstrap: the standard error and the 95 % interval [lower, upper].
    public var se: Double?
    public var ci: [Double]?

    public init(a: String, b: String, method: RDMComparisonMethod, value: Double, p: Double? = nil, se: Double? = nil, ci: [Double]? = nil) {
        self.a = a
        self.b = b
        self.method = method
        self.value = value
        self.p = p
        self.se = se
        self.ci = ci
    }

    enum CodingKeys: String, CodingKey { case a, b, method, value, p, se, ci }

    /// JSON has no NaN: an undefined number (a constant RDM, say) is written as null.
    public func encode(to encoder: Encoder) throws {
        func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(a, forKey: .a)
        try container.encode(b, forKey: .b)
        try container.encode(method, forKey: .method)
        try container.encode(finite(value), forKey: .value)
        if let p { try container.encode(finite(p), forKey: .p) }
        if let se { try container.encode(finite(se), forKey: .se) }
        if let ci { try container.encode(ci.map(finite), forKey: .ci) }
    }
}

extension RDMSet {
    /// The RDM of each pattern set of `input`, after a PCA to `pcaComponents` components
    /// (scikit-learn's `PCA(n_components=K)`, fitted per set) when given. `progress` hears of
    /// each set as it starts.
    public init(input: RDMInput, measure: RDMMeasure, pcaComponents: Int? = nil,
                progress: ProgressReporter? = nil) throws {
        var rdms: [RDM] = []
        for (i, name) in input.names.enumerated() {
            progress?.report(completed: i, total: input.names.count, message: name)
            var matrix = try PatternMatrix(try input.patterns(name), name: name)
            if let k = pcaComponents {
                var pca = PCA(componentCount: k)
                let scores = try pca.fit(matrix, name: "\(name) in \(input.path)")
                matrix = PatternMatrix(rows: matrix.rows, columns: k, doubles: scores)
            }
            rdms.append(try RDM(name: name, matrix: matrix, measure: measure))
        }
        progress?.report(completed: input.names.count, total: input.names.count, message: "done")
        try self.init(rdms: rdms, stimulusNames: input.stimulusNames, measure: measure, pcaComponents: pcaComponents)
    }

    /// Every RDM of this set against every RDM of `other`, in order (this set's RDMs outer).
    /// When both sets name their stimuli, the names must be the same set; `other` is put in
    /// this set's order when it lists them differently. `permutations` > 0 adds a p-value,
    /// `bootstrap` > 0 a standard error and 95 % interval, both from `seed`.
    public func compare(with other: RDMSet, method: RDMComparisonMethod, permutations: Int = 0,
                        bootstrap: Int = 0, seed: UInt64 = 0) throws -> [RDMComparisonResult] {
        guard permutations >= 0, bootstrap >= 0 else {
            throw BERGError.invalidArgument(name: "permutations, bootstrap samples", value: "\(permutations), \(bootstrap)", message: "cannot be negative")
        }
        let aligned = try other.inStimulusOrder(of: self)
        var results: [RDMComparisonResult] = []
        for a in rdms {
            for b in aligned.rdms {
                let comparison = try RDMComparison(a, b, method: method)
                var result = RDMComparisonResult(a: a.name, b: b.name, method: method, value: comparison.value)
                if permutations > 0 { result.p = comparison.permutationTest(permutations: permutations, seed: seed).pValue }
                if bootstrap > 0 {
                    let summary = comparison.bootstrap(samples: bootstrap, seed: seed)
                    result.se = summary.standardError
                    result.ci = [summary.lower, summary.upper]
                }
                results.append(result)
            }
        }
        return results
    }

    /// This set with its stimuli in the order `reference` names them.
    func inStimulusOrder(of reference: RDMSet) throws -> RDMSet {
        guard stimulusCount == reference.stimulusCount else {
            throw BERGError.invalidInput("The RDMs cover different numbers of stimuli: \(reference.stimulusCount) (\(reference.names.joined(separator: ", "))) against \(stimulusCount) (\(names.joined(separator: ", "))); compute both from the same stimuli")
        }
        guard !stimulusNames.isEmpty, !reference.stimulusNames.isEmpty, stimulusNames != reference.stimulusNames else { return self }
        var position: [String: Int] = [:]
        for (i, name) in stimulusNames.enumerated() { position[name] = i }
        guard position.count == stimulusCount, Set(reference.stimulusNames).count == stimulusCount else {
            throw BERGError.invalidInput("Stimulus names repeat, so the two files' stimuli cannot be matched by name")
        }
        let order = try reference.stimulusNames.map { name -> Int in
            guard let i = position[name] else {
                throw BERGError.invalidInput("The RDMs are of different stimuli: '\(name)' is in \(reference.names.joined(separator: ", ")) but not in \(names.joined(separator: ", "))")
            }
            return i
        }
        return try RDMSet(rdms: rdms.map { try $0.reordered(order) }, stimulusNames: reference.stimulusNames,
                          measure: measure, pcaComponents: pcaComponents)
    }
}
