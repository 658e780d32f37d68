import BERGAnalysis
import BERGCore
import Foundation

public typealias RDM = BERGAnalysis.RDM
public typealias RDMSet = BERGAnalysis.RDMSet
public typealias RDMMetric = BERGAnalysis.RDMMetric
public typealias RDMMeasure = BERGAnalysis.RDMMeasure
public typealias RDMInput = BERGAnalysis.RDMInput
public typealias RDMFile = BERGAnalysis.RDMFile
public typealias RDMComparison = BERGAnalysis.RDMComparison
public typealias RDMComparisonMethod = BERGAnalysis.RDMComparisonMethod
public typealias RDMComparisonResult = BERGAnalysis.RDMComparisonResult
public typealias RDMPermutationTest = BERGAnalysis.RDMPermutationTest
public typealias RDMBootstrap = BERGAnalysis.RDMBootstrap

/// Representational similarity analysis (`berg rsa`): RDMs of responses, DNN features or
/// measured data, and their comparison, with rsatoolbox's numbers.
///
/// ```swift
/// let layers = try BERG.computeRDMs(input: "alexnet.h5", metric: .correlation, pcaComponents: 100)
/// let brain = try BERG.computeRDMs(input: "ffa.h5", metric: .correlation)
/// try BERG.writeRDMs(layers, to: "alexnet_rdms.h5")
/// for line in try BERG.compareRDMs(layers, brain, method: .spearman, permutations: 1000) {
///     print(line.a, line.b, line.value, line.p!)
/// }
/// ```
extension BERG {
    /// The RDMs of a file's patterns: an `.npy` [N, P], an `.h5` from `berg encode` (each
    /// response output) or `berg features` (each layer, or those in `layers`), or a 4-D NIfTI
    /// with a `mask` (the voxels above 0). rsatoolbox's `euclidean` is
    /// `metric: .sqeuclidean, perUnit: true`.
    public static func computeRDMs(input path: String, layers: [String] = [], mask: String? = nil,
                                   metric: RDMMetric, perUnit: Bool = false, pcaComponents: Int? = nil,
                                   progress: ProgressReporter? = nil) throws -> RDMSet {
        let input = try RDMInput(path: path, layers: layers, mask: mask)
        return try RDMSet(input: input, measure: RDMMeasure(metric, perUnit: perUnit),
                          pcaComponents: pcaComponents, progress: progress)
    }

    /// The RDM of the rows of `patterns` [N, P] (or [N, ...], flattened per stimulus).
    public static func computeRDM(patterns: Tensor, name: String = "patterns", metric: RDMMetric,
                                  perUnit: Bool = false, pcaComponents: Int? = nil) throws -> RDM {
        var patterns = patterns
        if let k = pcaComponents {
            var pca = PCA(componentCount: k)
            patterns = try pca.fitTransform(patterns, name: name)
        }
        return try RDM(name: name, patterns: patterns, measure: RDMMeasure(metric, perUnit: perUnit))
    }

    /// Writes RDMs to `.h5` (rsatoolbox reads it with `load_rdm(path, file_type='hdf5')`) or,
    /// for a single RDM, `.npy` (the square float64 matrix). The `.h5` root records the BERG
    /// version and, when given, the input file.
    public static func writeRDMs(_ set: RDMSet, to path: String, input: String? = nil) throws {
        var attributes = ["berg_version": version]
        if let input { attributes["input"] = input }
        try RDMFile.write(set, to: path, attributes: attributes)
    }

    /// Draws the RDMs as heat maps in a grid (one panel per RDM, titled with its name, with a
    /// colour bar) and writes the PNG. With `labels`, a CSV table with a header row, the
    /// stimuli are ordered by their label: rows are matched by a column that lists the
    /// stimulus names (the label is then the first other column), or else taken in stimulus
    /// order (the label is the last column). RDMs over more than 256 stimuli are drawn as
    /// block means.
    public static func writeRDMPicture(_ set: RDMSet, to path: String, labels: String? = nil) throws {
        try RDMPicture.write(set, to: path, labels: labels)
    }

    /// Reads RDMs from an `.h5` file (`berg rsa rdm`'s or rsatoolbox's) or a square `.npy`.
    public static func readRDMs(_ path: String) throws -> RDMSet {
        try RDMFile.read(path)
    }

    /// Every RDM of `a` against every RDM of `b`, with a permutation p-value and a bootstrap
    /// standard error and 95 % interval when asked for (seeded: the same seed, the same numbers).
    public static func compareRDMs(_ a: RDMSet, _ b: RDMSet, method: RDMComparisonMethod = .pearson,
                                   permutations: Int = 0, bootstrap: Int = 0, seed: UInt64 = 0) throws -> [RDMComparisonResult] {
        try a.compare(with: b, method: method, permutations: permutations, bootstrap: bootstrap, seed: seed)
    }

    /// `compareRDMs` on two RDM files.
    public static func compareRDMs(_ a: String, _ b: String, method: RDMComparisonMethod = .pearson,
                                   permutations: Int = 0, bootstrap: Int = 0, seed: UInt64 = 0) throws -> [RDMComparisonResult] {
        // The two files are read side by side.
        var sets = [Result<RDMSet, any Error>?](repeating: nil, count: 2)
        sets.withUnsafeMutableBufferPointer { slots in
            let box = UncheckedSendable(slots)
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                box.value[i] = Result { try readRDMs(i == 0 ? a : b) }
            }
        }
        return try compareRDMs(sets[0]!.get(), sets[1]!.get(), method: method, permutations: permutations, bootstrap: bootstrap, seed: seed)
    }

    /// One comparison of two RDMs over the same stimuli, as `rsatoolbox.rdm.compare`.
    public static func compareRDMs(_ a: RDM, _ b: RDM, method: RDMComparisonMethod = .pearson) throws -> Double {
        try RDMComparison(a, b, method: method).value
    }

    /// A permutation test of `a` against `b`: `a`'s stimuli relabelled `permutations` times,
    /// p = (number ≥ observed + 1) / (permutations + 1).
    public static func permutationTest(_ a: RDM, _ b: RDM, method: RDMComparisonMethod = .pearson,
                                       permutations: Int, seed: UInt64 = 0) throws -> RDMPermutationTest {
        try RDMComparison(a, b, method: method).permutationTest(permutations: permutations, seed: seed)
    }

    /// A bootstrap of the comparison of `a` and `b` over stimuli drawn with replacement.
    public static func bootstrap(_ a: RDM, _ b: RDM, method: RDMComparisonMethod = .pearson,
                                 samples: Int, seed: UInt64 = 0) throws -> RDMBootstrap {
        try RDMComparison(a, b, method: method).bootstrap(samples: samples, seed: seed)
    }
}
