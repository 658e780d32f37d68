import ArgumentParser
import BERG
import Foundation

struct FitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit", abstract: "Fit a cross-validated encoding model (PCA + a linear estimator) with scikit-learn's numbers.",
        discussion: """
        Examples:
          # img2brain: AlexNet features.12 → PCA(100) → Lasso(0.01), 20 % held out
          berg fit --features acts.h5 --layer features.12 --responses fmri.npy \\
              --pca 100 --estimator lasso --alpha 0.01 --val-fraction 0.2 --output-dir out/
          # DNNBrain: PCA(100) + LinearRegression, or PLS(10), 10-fold, on a masked 4-D NIfTI
          berg fit --features acts.h5 --layer features.12 --responses betas.nii.gz \\
              --mask V1.nii.gz --pca 100 --estimator linear --cv 10 --output-dir out/
          berg fit --features acts.h5 --layer features.12 --responses betas.nii.gz \\
              --mask V1.nii.gz --estimator pls --components 10 --cv 10 --output-dir out/
          # a ridge penalty chosen per voxel by efficient leave-one-out (RidgeCV)
          berg fit --features X.npy --responses Y.h5:betas --estimator ridge \\
              --alphas 0.1,1,10,100,1000 --cv 5 --output-dir out/

        Each fold fits the PCA and the estimator on its training rows only, as scikit-learn's \
        PCA (full SVD, no whitening), LinearRegression, Ridge, RidgeCV(alpha_per_target=True), \
        Lasso, ElasticNet and PLSRegression do with their defaults; --cv K is KFold(K) without \
        shuffling (default 5) and --val-fraction F holds out the last F of the rows. Features \
        are flattened per stimulus; --zscore-features z-scores each stimulus across its units.

        OUT gets scores.npy [V, folds] (Pearson r or R² per voxel and fold), predictions.npy \
        (the held-out predictions), alphas.npy (with --alphas), scores.nii.gz (with a mask), \
        summary.json, and model/: the pipeline refit on all rows as a feature-linear model \
        package that `berg encode ID --registry OUT/model --input images/` runs, when the \
        features came from `berg features`.
        """)

    @Option(help: ArgumentHelp("An .h5 file from `berg features` (with --layer) or a .npy array [N, ...].", valueName: "file"))
    var features: String

    @Option(name: .customLong("layer"), help: ArgumentHelp("A layer (dataset) of the .h5 features (repeatable: concatenated).", valueName: "name"))
    var layers: [String] = []

    @Option(help: ArgumentHelp("Y.npy [N, V], Y.h5:DATASET, or a 4-D Y.nii.gz with --mask.", valueName: "responses"))
    var responses: String

    @Option(help: ArgumentHelp("A 3-D NIfTI: the voxels > 0 (NumPy C order) are fitted; with array responses it places them.", valueName: "M.nii.gz"))
    var mask: String?

    @Flag(help: "Z-score each stimulus's features across units first.") var zscoreFeatures = false
    @Option(help: ArgumentHelp("PCA components fitted on each fold's training rows.", valueName: "K")) var pca: Int?
    @Option(help: ArgumentHelp("linear, ridge, lasso, elasticnet or pls.", valueName: "name")) var estimator: String
    @Option(help: "The penalty of ridge, lasso and elasticnet (scikit-learn's default 1).") var alpha: Double?
    @Option(help: ArgumentHelp("Ridge penalties to choose from per voxel (RidgeCV), comma-separated.", valueName: "a1,a2,…"))
    var alphas: String?
    @Option(help: "ElasticNet's L1 share (default 0.5).") var l1Ratio: Double?
    @Option(help: ArgumentHelp("PLS components (default 2).", valueName: "K")) var components: Int?
    @Option(help: ArgumentHelp("K-fold cross-validation (default 5).", valueName: "K")) var cv: Int?
    @Option(help: ArgumentHelp("Hold out the last F of the rows instead.", valueName: "F")) var valFraction: Double?
    @Option(help: "correlation (Pearson r) or r2.") var score = "correlation"
    @Option(help: ArgumentHelp("The folder to write.", valueName: "OUT")) var outputDir: String
    @Option(help: "The fitted model's id (default: made from the inputs).") var modelID: String?
    @Option(help: "The subject the model declares.") var subject = 1
    @Flag(name: .customLong("drop-nan-voxels"), help: "Leave out voxels whose responses hold NaN (the count is reported) instead of failing.")
    var dropNaNVoxels = false
    @Option(help: "CPU threads for compute (default: BERG_NUM_THREADS, else all cores).", transform: ComputeOptions.threadCount)
    var threads: Int?

    func validate() throws {
        guard EncodingFitSettings.Estimator(rawValue: estimator) != nil else {
            throw ValidationError("--estimator must be one of \(EncodingFitSettings.Estimator.allCases.map(\.rawValue).joined(separator: ", ")), got '\(estimator)'")
        }
        guard ScoreKind(rawValue: score) != nil else { throw ValidationError("--score must be correlation or r2, got '\(score)'") }
        if cv != nil, valFraction != nil { throw ValidationError("give --cv K or --val-fraction F, not both") }
        _ = try parsedAlphas()
        do {
            try settings().check()
            try BERG.checkThreadSetting(threads)
        } catch let error as BERGError {
            throw ValidationError(error.message)  // bad flags are usage errors (exit 2)
        }
    }

    func parsedAlphas() throws -> [Double]? {
        try alphas.map { text in
            try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
                guard let value = Double(item.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--alphas takes comma-separated numbers such as 0.1,1,10, got '\(text)'")
                }
                return value
            }
        }
    }

    func settings() throws -> EncodingFitSettings {
        let validation: Validation = valFraction.map { .holdOut(fraction: $0) } ?? .kFold(cv ?? 5)
        return EncodingFitSettings(estimator: EncodingFitSettings.Estimator(rawValue: estimator)!, alpha: alpha, alphas: try parsedAlphas(),
                                   l1Ratio: l1Ratio, components: components, pca: pca, zscoreFeatures: zscoreFeatures,
                                   validation: validation, score: ScoreKind(rawValue: score)!)
    }

    func run() throws {
        try BERG.configureThreads(threads)
        let berg = try BERG()
        let job = FitJob(features: features, layers: layers, responses: responses, mask: mask, settings: try settings(),
                         outputDirectory: outputDir, modelID: modelID, subject: subject, dropNaNVoxels: dropNaNVoxels)
        try berg.run(job) { line in writeStderr("berg fit: \(line)\n") }
    }
}
