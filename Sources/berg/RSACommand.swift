import ArgumentParser
import BERG
import Foundation

struct RSACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rsa",
        abstract: "Representational similarity analysis: RDMs of responses, DNN layers or measured data, and their comparison.",
        discussion: """
        Examples (DNNBrain's walkthrough):
          berg rsa rdm alexnet.h5 --pca 100 --metric correlation \\
              --output alexnet_rdms.h5 --picture alexnet_rdms.png
          berg rsa rdm ffa.h5 --metric correlation --output ffa_rdm.h5
          berg rsa compare alexnet_rdms.h5 ffa_rdm.h5 --permutations 1000

        The numbers equal rsatoolbox 0.3.2's (calc_rdm, compare); its RDM .h5 files are read \
        and ours load with rsatoolbox.rdm.load_rdm(path, file_type='hdf5').
        """,
        subcommands: [RDMCommand.self, Compare.self])

    struct RDMCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rdm",
            abstract: "Compute representational dissimilarity matrices (one per layer or response output).",
            discussion: """
            INPUT is one of:
              an .npy array [stimuli, units];
              an .h5 file from `berg encode` (one RDM per response output);
              an .h5 file from `berg features` (one RDM per layer; --layer picks some);
              a 4-D NIfTI volume (.nii/.nii.gz, stimuli on the last axis) with --mask.

            Metrics, between the patterns a and b of two stimuli over P units:
              correlation   1 − Pearson r
              euclidean     √Σ(a−b)²
              sqeuclidean   Σ(a−b)²
              cosine        1 − cosine similarity
            --per-unit divides by P. rsatoolbox's method 'euclidean' is in fact Σ(a−b)²/P, \
            which is our `sqeuclidean --per-unit`.

            Output: .npy, the square float64 [N, N] RDM (one RDM); or .h5, one group per RDM \
            (the layer or output name) holding the condensed upper triangle, the metric, and \
            stimulus_names, in the layout rsatoolbox.rdm.load_rdm(path, file_type='hdf5') reads.

            Examples:
              berg rsa rdm features.h5 --layer features.9 --layer features.11 \\
                  --pca 100 --metric correlation --output layers.h5 \\
                  --picture layers.png --labels labels.csv
              berg rsa rdm responses.h5 --metric euclidean --output rdm.npy
              berg rsa rdm bold.nii.gz --mask ffa_mask.nii.gz \\
                  --metric correlation --output ffa_rdm.h5
              berg rsa rdm patterns.npy --metric sqeuclidean --per-unit \\
                  --output rdm.npy       (rsatoolbox's euclidean)
            """)

        @Argument(help: "The patterns: .npy, an .h5 from `berg encode` or `berg features`, or a 4-D .nii/.nii.gz (with --mask).")
        var input: String?

        @Option(name: .customLong("layer"), parsing: .upToNextOption,
                help: ArgumentHelp("Layers or response outputs of an .h5 input to use (repeatable; default: all).", valueName: "name"))
        var layers: [String] = []

        @Option(help: ArgumentHelp("For a NIfTI input: the voxels where this mask is above 0.", valueName: "mask.nii.gz"))
        var mask: String?

        @Option(help: ArgumentHelp("Reduce each layer's patterns to K principal components first (scikit-learn's PCA(n_components=K)).", valueName: "K"))
        var pca: Int?

        @Option(help: "correlation, euclidean, sqeuclidean or cosine (rsatoolbox's euclidean is sqeuclidean --per-unit).")
        var metric: RDMMetric

        @Flag(help: "Divide the distances by the number of units P.")
        var perUnit = false

        @Option(help: ArgumentHelp("Where to write: .h5 (RDMs by name) or .npy (one square RDM).", valueName: "rdm.h5|rdm.npy"))
        var output: String

        @Option(help: ArgumentHelp("Also draw the RDMs as heat maps in a grid (PNG).", valueName: "rdm.png"))
        var picture: String?

        @Option(help: ArgumentHelp("With --picture: a CSV table (header row) whose label column orders the stimuli; rows match by a column of stimulus names, else are the stimuli in order.", valueName: "labels.csv"))
        var labels: String?

        mutating func validate() throws {
            // `--layer a b INPUT`: the list swallowed the input.
            if input == nil, let last = layers.last, FileManager.default.fileExists(atPath: last) {
                input = layers.removeLast()
            }
            guard let input else { throw ValidationError("Missing the INPUT file (an .npy, .h5 or .nii.gz of patterns)") }
            let isNIfTI = input.lowercased().hasSuffix(".nii") || input.lowercased().hasSuffix(".nii.gz")
            if isNIfTI && mask == nil {
                throw ValidationError("A NIfTI input needs --mask MASK.nii.gz: the voxels where the mask is above 0 make the patterns")
            }
            if !isNIfTI, let mask {
                throw ValidationError("--mask \(mask) applies to a 4-D NIfTI input (.nii or .nii.gz), not to \(input)")
            }
            if let pca, pca < 1 { throw ValidationError("--pca takes a number of components of at least 1, got \(pca)") }
            let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
            guard ["npy", "h5", "hdf5"].contains(ext) else {
                throw ValidationError("--output must end in .h5 or .npy, got '\(output)'")
            }
            if let picture, URL(fileURLWithPath: picture).pathExtension.lowercased() != "png" {
                throw ValidationError("--picture must end in .png, got '\(picture)'")
            }
            if labels != nil && picture == nil { throw ValidationError("--labels orders the stimuli of --picture; give --picture too") }
            if perUnit && (metric == .correlation || metric == .cosine) {
                throw ValidationError("--per-unit applies to euclidean and sqeuclidean, not to \(metric.rawValue)")
            }
        }

        func run() throws {
            let input = input!
            let progress: ProgressReporter? = isatty(STDERR_FILENO) == 1 ? LayerProgress() : nil
            let rdms = try BERG.computeRDMs(input: input, layers: layers, mask: mask, metric: metric, perUnit: perUnit,
                                            pcaComponents: pca, progress: progress)
            // The picture first: a labels table that does not fit fails before any file is written.
            if let picture { try BERG.writeRDMPicture(rdms, to: picture, labels: labels) }
            try BERG.writeRDMs(rdms, to: output, input: input)
            let measure = RDMMeasure(metric, perUnit: perUnit).description + (pca.map { " after PCA to \($0)" } ?? "")
            FileHandle.standardError.write(Data("wrote \(output)\(picture.map { " and \($0)" } ?? ""): \(rdms.rdms.count) RDM(s) of \(rdms.stimulusCount) stimuli (\(rdms.names.joined(separator: ", "))), \(measure)\n".utf8))
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare RDMs: one line per pair (every RDM of A against every RDM of B).",
            discussion: """
            A and B are RDM files: .h5 from `berg rsa rdm` (or rsatoolbox's RDMs.save), or a \
            square .npy. The condensed upper triangles are compared by:
              pearson        Pearson r (rsatoolbox's corr)
              spearman       Spearman ρ (rsatoolbox's spearman)
              kendall-tau-a  Kendall's τ-a (rsatoolbox's tau-a, not SciPy's τ-b)
              cosine         cosine similarity (rsatoolbox's cosine)

            --permutations N relabels A's stimuli (rows and columns together) N times: \
            p = (count ≥ observed + 1) / (N + 1). --bootstrap N resamples the stimuli with \
            replacement N times (a stimulus's pairs with its own copies left out) and gives \
            the standard error and a 95 % percentile interval. Both follow --seed (default 0): \
            the same seed gives the same numbers.

            Examples:
              berg rsa compare layers.h5 ffa_rdm.h5 --method spearman
              berg rsa compare layers.h5 ffa_rdm.h5 --permutations 1000 \\
                  --bootstrap 1000 --seed 7 --json
            """)

        @Argument(help: "The first RDM file (.h5 or .npy).") var a: String
        @Argument(help: "The second RDM file (.h5 or .npy).") var b: String

        @Option(help: "pearson, spearman, kendall-tau-a or cosine.")
        var method: RDMComparisonMethod = .pearson

        @Option(help: "Random relabellings of A's stimuli for a p-value (0: none).")
        var permutations = 0

        @Option(help: "Bootstrap resamplings of the stimuli for a standard error and 95 % interval (0: none).")
        var bootstrap = 0

        @Option(help: "The seed of the permutations and bootstrap.")
        var seed: UInt64 = 0

        @Flag(help: "Print a JSON list of {a, b, method, value} (with p, se and ci when asked for).")
        var json = false

        func validate() throws {
            guard permutations >= 0 else { throw ValidationError("--permutations must be 0 or more, got \(permutations)") }
            guard bootstrap >= 0 else { throw ValidationError("--bootstrap must be 0 or more, got \(bootstrap)") }
        }

        func run() throws {
            let results = try BERG.compareRDMs(a, b, method: method, permutations: permutations, bootstrap: bootstrap, seed: seed)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                writeStdout(String(decoding: try encoder.encode(results), as: UTF8.self) + "\n")
                return
            }
            for r in results {
                var line = "A:\(r.a)  B:\(r.b)  \(r.method.rawValue) \(Compare.number(r.value))"
                if let p = r.p { line += "  p \(Compare.number(p))" }
                if let se = r.se, let ci = r.ci {
                    line += "  se \(Compare.number(se))  ci [\(Compare.number(ci[0])), \(Compare.number(ci[1]))]"
                }
                writeStdout(line + "\n")
            }
        }

        static func number(_ x: Double) -> String { x.isNaN ? "nan" : String(format: "%.6f", x) }
    }
}

extension RDMMetric: ExpressibleByArgument {}
extension RDMComparisonMethod: ExpressibleByArgument {}

/// One stderr line per layer, on terminals only.
struct LayerProgress: ProgressReporter {
    func report(completed: Int, total: Int, message: String) {
        guard completed < total else { return }
        FileHandle.standardError.write(Data("RDM of \(message) (\(completed + 1)/\(total))\n".utf8))
    }
}
