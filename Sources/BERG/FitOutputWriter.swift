import BERGAnalysis
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// Writes `berg fit`'s output folder:
///
/// ```
/// OUT/
/// ├── scores.npy         float32 [V, folds]: each voxel's held-out score per fold
/// ├── predictions.npy    float32 [rows, V]: held-out predictions (every row for K-fold, the
/// │                      validation rows for --val-fraction)
/// ├── alphas.npy         float64 [V]: RidgeCV's alpha per voxel in the refit on all rows
/// ├── fold_alphas.npy    float64 [V, folds]: the alpha chosen in each fold (with --alphas)
/// ├── voxels.npy         int64 [V]: which input voxels these are (with --drop-nan-voxels)
/// ├── scores.nii.gz      float32: each voxel's mean score on the mask's grid, NaN elsewhere
/// ├── summary.json       median, mean and 90th percentile of the mean scores, counts, settings
/// ├── accuracy.png       a histogram of the mean scores, the median marked
/// └── model/             the pipeline refit on all rows, a feature-linear model package
///     ├── manifest.yaml  (when the features came from `berg features`)
///     └── weights.npz    coef [V, p] and pca_components [K, P] float32; intercept [V] and
///                        pca_mean [P] float64
/// ```
struct FitOutputWriter {
    let job: FitJob
    let features: FitFeatures
    let responses: FitResponses
    let keptVoxels: [Int]
    let droppedVoxels: [Int]
    let result: EncodingFitResult

    var folder: URL { URL(fileURLWithPath: job.outputDirectory) }

    func write() throws -> FitSummary {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw BERGError.writeFailed(path: job.outputDirectory, message: error.localizedDescription)
        }
        let v = keptVoxels.count, folds = result.folds
        let meanScores = result.meanScores
        var written: [String] = []
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        do {
            try NPYFile.write(try Tensor(shape: [v, folds], floats: result.scores.map(Float.init)), to: path("scores.npy"))
            written.append("scores.npy")
            try NPYFile.write(try Tensor(shape: [result.predictedRows.count, v], floats: result.predictions), to: path("predictions.npy"))
            written.append("predictions.npy")
            if let alphas = result.model.alphas, let foldAlphas = result.foldAlphas {
                try NPYFile.write(try Tensor(shape: [v], doubles: alphas), to: path("alphas.npy"))
                try NPYFile.write(try Tensor(shape: [v, folds], doubles: foldAlphas), to: path("fold_alphas.npy"))
                written += ["alphas.npy", "fold_alphas.npy"]
            }
            if !droppedVoxels.isEmpty {
                try NPYFile.write(try Tensor(shape: [v], int64s: keptVoxels.map(Int64.init)), to: path("voxels.npy"))
                written.append("voxels.npy")
            }
            if let grid = responses.grid {
                var volume = [Float](repeating: .nan, count: Tensor.count(of: grid.shape))
                for (column, voxel) in keptVoxels.enumerated() { volume[grid.positions[voxel]] = Float(meanScores[column]) }
                try NIfTIFile.write(try Tensor(shape: grid.shape, floats: volume), affine: grid.affine, to: path("scores.nii.gz"))
                written.append("scores.nii.gz")
            }
            try AccuracyPicture.write(meanScores, settings: job.settings, folds: folds, to: path("accuracy.png"))
            written.append("accuracy.png")
            let modelID = job.modelID ?? defaultModelID()
            let hasManifest = try writeModel(id: modelID, meanScores: meanScores)
            written += hasManifest ? ["model/manifest.yaml", "model/weights.npz"] : ["model/weights.npz"]
            let summary = FitSummary(median: EncodingFit.median(meanScores), mean: Self.mean(meanScores),
                                     percentile90: EncodingFit.percentile(meanScores, 90), voxels: v, droppedVoxels: droppedVoxels,
                                     modelID: modelID, files: written + ["summary.json"], result: result)
            try AtomicFile.write(try summaryJSON(summary, meanScores: meanScores), to: path("summary.json"))
            return summary
        } catch {
            for name in written { try? FileManager.default.removeItem(atPath: path(name)) }
            throw error
        }
    }

    static func mean(_ values: [Double]) -> Double {
        let finite = values.filter(\.isFinite)
        return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
    }

    /// fit-<responses>-<network>-<layers>-pca<K>-<estimator>, in the characters ids allow.
    func defaultModelID() -> String {
        var parts = ["fit", responses.name]
        if let network = features.provenance?.network { parts.append(network) }
        parts += features.layers
        if let k = job.settings.pca { parts.append("pca\(k)") }
        parts.append(job.settings.estimator.rawValue)
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        let text = parts.joined(separator: "-").lowercased().map { allowed.contains($0) ? $0 : "-" }
        return String(text)
    }

    // MARK: - summary.json

    func summaryJSON(_ summary: FitSummary, meanScores: [Double]) throws -> Data {
        func number(_ x: Double?) -> Any { x.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }
        let s = job.settings
        var settings: [String: Any] = [
            "estimator": s.estimator.rawValue, "pca": number(s.pca.map(Double.init)), "zscore_features": s.zscoreFeatures,
            "score": s.score.rawValue, "alpha": number(s.alpha), "l1_ratio": number(s.l1Ratio),
            "components": number(s.components.map(Double.init)),
            "alphas": s.alphas.map { $0 as Any } ?? NSNull(),
        ]
        switch s.validation {
        case .kFold(let k): settings["cv"] = k
        case .holdOut(let f): settings["val_fraction"] = f
        }
        var object: [String: Any] = [
            "median": number(summary.median), "mean": number(summary.mean), "p90": number(summary.percentile90),
            "score": s.score.rawValue, "voxels": summary.voxels,
            "voxels_without_score": meanScores.filter { !$0.isFinite }.count,
            "voxels_dropped": droppedVoxels.count,
            "folds": result.folds, "stimuli": features.rows.rows, "features": features.rows.columns,
            "prediction_rows": [result.predictedRows.first ?? 0, (result.predictedRows.last ?? -1) + 1],
            "pipeline": s.pipelineDescription, "settings": settings, "model_id": summary.modelID,
            "inputs": ["features": job.features, "layers": job.layers, "responses": job.responses,
                       "mask": job.mask.map { $0 as Any } ?? NSNull()] as [String: Any],
            "berg_version": BERG.version,
        ]
        if let provenance = features.provenance {
            object["network"] = provenance.network
            object["weights"] = provenance.weights
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    // MARK: - model/

    /// Writes model/ through a temporary folder renamed into place; returns whether it has a
    /// manifest (only when the features' network and weights are known).
    func writeModel(id: String, meanScores: [Double]) throws -> Bool {
        let model = result.model
        let v = keptVoxels.count
        var arrays: [(name: String, tensor: Tensor)] = [
            ("coef", try Tensor(shape: [v, model.inputCount], floats: model.coefficients)),
            ("intercept", try Tensor(shape: [v], doubles: model.intercept)),
        ]
        if let components = model.pcaComponents, let mean = model.pcaMean {
            arrays.append(("pca_components", try Tensor(shape: [model.pcaComponentCount, mean.count], floats: components.map(Float.init))))
            arrays.append(("pca_mean", try Tensor(shape: [mean.count], doubles: mean)))
        }
        let temp = folder.appendingPathComponent(".model.\(ProcessInfo.processInfo.processIdentifier).tmp")
        let final = folder.appendingPathComponent("model")
        try? FileManager.default.removeItem(at: temp)
        do {
            try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
            let weights = temp.appendingPathComponent("weights.npz")
            try NPZFile.write(arrays, to: weights.path)
            var hasManifest = false
            if let provenance = features.provenance {
                let yaml = try manifestText(id: id, provenance: provenance, weightsSHA256: ArtifactStore.sha256(of: weights),
                                            meanScores: meanScores)
                try AtomicFile.write(Data(yaml.utf8), to: temp.appendingPathComponent("manifest.yaml").path)
                hasManifest = true
            }
            try? FileManager.default.removeItem(at: final)
            try FileManager.default.moveItem(at: temp, to: final)
            return hasManifest
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error
        }
    }

    /// The package's manifest (FEATURE-LINEAR.md's subset of the feature-linear kind), checked
    /// by the strict loader before it is written.
    func manifestText(id: String, provenance: ActivationsFile.Provenance, weightsSHA256: String, meanScores: [Double]) throws -> String {
        let s = job.settings
        let preprocessing = try JSONSerialization.jsonObject(with: Data(provenance.preprocessing.utf8))
        var settings: [String: Any] = [
            "network": provenance.network, "backbone_artifact": "backbone", "layers": features.layers,
            "zscore_features": s.zscoreFeatures, "weights_artifact": "weights",
            "readouts": [["output": "responses", "coef": "coef", "intercept": "intercept"]],
        ]
        if s.pca != nil { settings["pca"] = ["components": "pca_components", "mean": "pca_mean"] }
        var backbone: [String: Any] = provenance.weights.hasPrefix("https://") || provenance.weights.hasPrefix("http://")
            ? ["name": "backbone", "source": "https", "url": provenance.weights]
            : ["name": "backbone", "source": "local", "path": provenance.weights]
        let sha = provenance.weightsSHA256.lowercased()
        if sha.count == 64, sha.allSatisfy(\.isHexDigit) { backbone["sha256"] = sha }
        let validation: String
        switch s.validation {
        case .kFold(let k): validation = "\(k)-fold cross-validation (contiguous folds)"
        case .holdOut(let f): validation = "the last \(Int((f * 100).rounded())) % of the stimuli held out"
        }
        let layerText = features.layers.joined(separator: " + ")
        let object: [String: Any] = [
            "model_id": id, "version": "1.0", "modality": "fmri", "training_dataset": responses.name, "species": "human",
            "stimuli": "images", "model_type": "\(provenance.network) \(layerText) features, \(s.pipelineDescription)",
            "creator": "berg fit (BERG for Swift \(BERG.version))", "license": "unspecified",
            "description": "An encoding model fitted with `berg fit`: \(provenance.network)'s \(layerText) activations of \(features.rows.rows) stimuli, "
                + "\(s.pipelineDescription), predicting \(keptVoxels.count) voxels of \(job.responses). Refitted on all stimuli after "
                + "\(validation), where the median \(s.score.rawValue) over voxels was \(String(format: "%.4f", EncodingFit.median(meanScores))).",
            "references": [] as [Any],
            "parameters": [
                "subject": ["type": "int", "valid_values": [job.subject], "description": "The subject whose responses were fitted."],
                "selection": ["required": false, "properties": [:] as [String: Any]],
            ],
            "input": ["name": "images", "shape": ["images", "3", "height", "width"], "dtype": "uint8", "value_range": [0, 255],
                      "description": "RGB images of any size, preprocessed as \(provenance.network)'s IMAGENET1K_V1 transform."],
            "output": [["name": "responses", "shape": ["images", "voxels"], "dtype": "float32",
                        "description": "Predicted responses of the \(keptVoxels.count) fitted voxels, in the order of the training responses."]],
            "encoder": ["kind": "feature-linear", "preprocessing": preprocessing, "settings": settings],
            "artifacts": [["name": "weights", "source": "local", "path": "weights.npz", "sha256": weightsSHA256], backbone],
        ]
        let manifest = try JSONDecoder().decode(Manifest.self, from: try JSONSerialization.data(withJSONObject: object))
        let yaml = try manifest.yamlText()
        _ = try ManifestLoader.load(yaml: yaml, file: "manifest.yaml")
        return yaml
    }
}
