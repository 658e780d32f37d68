import BERGAnalysis
import BERGCore
import BERGFormats
import Foundation

// What a library user of `berg fit` needs, re-exported (Exports.swift's convention).
public typealias EncodingFitSettings = BERGAnalysis.EncodingFitSettings
public typealias Validation = BERGAnalysis.Validation
public typealias ScoreKind = BERGAnalysis.ScoreKind
public typealias EncodingFit = BERGAnalysis.EncodingFit
public typealias EncodingFitResult = BERGAnalysis.EncodingFitResult
public typealias FittedPipeline = BERGAnalysis.FittedPipeline
public typealias PatternMatrix = BERGAnalysis.PatternMatrix
public typealias ResponseRows = BERGAnalysis.ResponseRows

/// One `berg fit` run: features, responses, the pipeline, and the folder to write.
public struct FitJob: Sendable {
    /// An `.h5` file from `berg features` (with `layers`) or a `.npy` array [N, ...].
    public var features: String
    /// Datasets of the `.h5` features, flattened per stimulus and concatenated in this order.
    public var layers: [String]
    /// `Y.npy` [N, V], `Y.h5:DATASET`, or a 4-D `Y.nii.gz` (with `mask`).
    public var responses: String
    /// Voxels where the mask is > 0 (NumPy C order of nibabel's array); with array responses
    /// it places their voxels on its grid.
    public var mask: String?
    public var settings: EncodingFitSettings
    public var outputDirectory: String
    /// The fitted model's id (default: made from the inputs).
    public var modelID: String?
    public var subject: Int
    /// Leave out voxels with NaN responses instead of failing.
    public var dropNaNVoxels: Bool

    public init(features: String, layers: [String] = [], responses: String, mask: String? = nil,
                settings: EncodingFitSettings, outputDirectory: String, modelID: String? = nil, subject: Int = 1,
                dropNaNVoxels: Bool = false) {
        self.features = features
        self.layers = layers
        self.responses = responses
        self.mask = mask
        self.settings = settings
        self.outputDirectory = outputDirectory
        self.modelID = modelID
        self.subject = subject
        self.dropNaNVoxels = dropNaNVoxels
    }
}

/// What a fit wrote and how well it predicts.
public struct FitSummary: Sendable {
    /// Median, mean and 90th percentile over voxels of each voxel's mean held-out score.
    public var median: Double
    public var mean: Double
    public var percentile90: Double
    public var voxels: Int
    public var droppedVoxels: [Int]
    public var modelID: String
    /// The files written, relative to the output folder.
    public var files: [String]
    public var result: EncodingFitResult
}

extension BERG {
    /// Checks a fit job before reading any data: the settings, the subject, the model id, the
    /// output folder, and that the inputs exist.
    public func check(_ job: FitJob) throws {
        try job.settings.check()
        guard job.subject >= 1 else { throw BERGError.invalidArgument(name: "subject", value: String(job.subject), message: "must be at least 1") }
        if let id = job.modelID {
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
            guard !id.isEmpty, id.allSatisfy(allowed.contains) else {
                throw BERGError.invalidArgument(name: "model-id", value: id, message: "use lower-case letters, digits, '-', '_' and '.'")
            }
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: job.outputDirectory, isDirectory: &isFolder), !isFolder.boolValue {
            throw BERGError.invalidArgument(name: "output-dir", value: job.outputDirectory, message: "this is a file; give a folder")
        }
        guard FileManager.default.fileExists(atPath: job.features) else {
            throw BERGError.fileNotFound(path: job.features, hint: "--features takes an .h5 file from `berg features` or a .npy array [N, ...]")
        }
        if FitResponses.hdf5Parts(job.responses) == nil, !FileManager.default.fileExists(atPath: job.responses) {
            throw BERGError.fileNotFound(path: job.responses, hint: "--responses takes Y.npy [N, V], Y.h5:DATASET or a 4-D Y.nii.gz with --mask")
        }
        if FitResponses.isNIfTI(job.responses), job.mask == nil {
            throw BERGError.invalidArgument(name: "mask", value: "", message: "a NIfTI response volume needs --mask M.nii.gz to say which voxels to fit")
        }
        if let mask = job.mask, !FileManager.default.fileExists(atPath: mask) {
            throw BERGError.fileNotFound(path: mask, hint: "--mask takes a 3-D NIfTI; voxels > 0 are fitted")
        }
    }

    /// Runs a fit job: reads the features and responses, cross-validates the pipeline (progress
    /// lines go to `progress`), refits it on all rows, and writes the output folder (see the
    /// README's `berg fit`). Files are written whole or not at all; on failure none of this
    /// run's files are left.
    @discardableResult
    public func run(_ job: FitJob, progress: ((String) -> Void)? = nil) throws -> FitSummary {
        try check(job)
        let say = progress ?? { _ in }
        let features = try FitFeatures.load(job.features, layers: job.layers)
        var responses = try FitResponses.load(job.responses, mask: job.mask)
        let x = features.rows
        guard x.rows == responses.rows.rows else {
            throw BERGError.invalidArgument(
                name: "responses", value: job.responses,
                message: "the features have \(x.rows) stimuli (shape \(features.shapes[0])) but the responses \(responses.rows.rows) (shape [\(responses.rows.rows), \(responses.rows.columns)]); they must be the same stimuli in the same order")
        }
        let bad = responses.nonFiniteVoxels()
        var kept = Array(0..<responses.rows.columns)
        if !bad.isEmpty {
            let listed = bad.prefix(10).map(String.init).joined(separator: ", ") + (bad.count > 10 ? ", …" : "")
            guard job.dropNaNVoxels else {
                throw BERGError.invalidArgument(
                    name: "responses", value: job.responses,
                    message: "\(bad.count) of \(responses.rows.columns) voxels hold NaN (voxels \(listed)); leave them out with --drop-nan-voxels, or clean the responses")
            }
            let dropped = Set(bad)
            kept = kept.filter { !dropped.contains($0) }
            guard !kept.isEmpty else {
                throw BERGError.invalidArgument(name: "responses", value: job.responses, message: "every voxel holds NaN; nothing is left to fit")
            }
            responses.rows = responses.rows.keepingColumns(kept)
            say("dropped \(bad.count) of \(kept.count + bad.count) voxels that hold NaN (voxels \(listed))")
        }
        try EncodingFit.check(features: x, responses: responses.rows, settings: job.settings)
        say("fitting \(job.settings.pipelineDescription) on features [\(x.rows), \(x.columns)] and responses [\(responses.rows.rows), \(responses.rows.columns)]")
        let result = try EncodingFit.run(features: x, responses: responses.rows, settings: job.settings, progress: say)
        let writer = FitOutputWriter(job: job, features: features, responses: responses, keptVoxels: kept, droppedVoxels: bad, result: result)
        let summary = try writer.write()
        if features.provenance == nil {
            say("model/ holds weights.npz and no manifest.yaml: these features did not come from `berg features`, so the network and weights that make them are unknown")
        }
        say(String(format: "median %@ %.4f over %d voxels; wrote %@ in %@", job.settings.score.rawValue, summary.median, summary.voxels,
                   summary.files.joined(separator: ", "), job.outputDirectory))
        return summary
    }
}
