import BERGCompute
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// The `feature-linear` kind: DNN features by layer name → (optional) per-image z-score →
/// (optional) StandardScaler → (optional) PCA → linear readouts, all declared in the
/// manifest (`FeatureLinearSettings`). BERG's ViT-B/32 models (NSD fsaverage, THINGS-EEG2)
/// and every model `berg fit` writes are manifests of this kind.
///
/// The arithmetic is scikit-learn's: `StandardScaler.transform` in float32,
/// `PCA.transform` as x·Cᵀ − mean·Cᵀ, `LinearRegression.predict` as x·coefᵀ + intercept.
/// The weights stay in their mapped file: the PCA and full readouts are multiplied a chunk
/// at a time straight from it, and only the readout rows a selection picks are copied.
public struct FeatureLinearEncoder: EncodingModel {
    public static let kind = EncoderKind(
        name: "feature-linear", settings: FeatureLinearSettings.self, requiresPreprocessing: true,
        manifestCheck: { manifest, settings in try settings.check(against: manifest) },
        selectionCheck: { context, settings in
            _ = try FeatureLinearUnits.resolve(context.selection, settings: settings, model: context.manifest.modelID, metadata: nil)
        },
        builder: { context, settings in try FeatureLinearEncoder(context: context, settings: settings) },
        metadata: { context, settings in try FeatureLinearEncoder.describe(context: context, settings: settings).metadata },
        metadataArtifacts: ["metadata"])  // settings.metadataArtifact, which must be named so

    public let modelID: String
    public let subject: Subject
    public let selection: Selection
    public let device: Device
    public let metadata: Metadata
    public let placement: ResponsePlacement?

    let preprocessing: Preprocessing
    let network: any FeatureNetwork
    /// The network's node for each manifest layer, in order.
    let nodes: [String]
    let zscore: Bool
    let scaler: (mean: [Float], scale: [Float])?
    let projections: [Projection]
    let readouts: [Readout]
    /// Per output: its per-image shape and the readouts stacked into it.
    let outputs: [(name: String, shape: [Int], readouts: [Int])]
    let labels: Metadata
    /// Images per forward pass: bounds the memory of the features ([images, features]).
    let batchSize = 64

    /// A PCA: x·Cᵀ − mean·Cᵀ.
    struct Projection {
        let components: ArrayInFile
        let mean: [Float]?
        var count: Int { components.matrixShape.rows }
        var features: Int { components.matrixShape.cols }
    }

    /// One readout: y = x·coefᵀ + intercept on the output of `projection` (the features
    /// themselves when nil); coef holds the selected rows only.
    struct Readout {
        let coef: ArrayInFile
        let intercept: [Float]
        let projection: Int?
        var units: Int { intercept.count }
    }

    public init(context: EncoderContext) throws {
        try self.init(context: context, settings: SettingsDecoder.decode(FeatureLinearSettings.self, from: context.manifest))
    }

    public init(context: EncoderContext, settings: FeatureLinearSettings) throws {
        let manifest = context.manifest
        modelID = manifest.modelID
        subject = context.subject
        selection = context.selection
        device = try context.device.resolved()
        preprocessing = try EncoderKind.preprocessing(of: manifest)
        zscore = settings.zscoreFeatures ?? false

        let description = try FeatureLinearEncoder.describe(context: context, settings: settings)
        metadata = description.metadata
        labels = description.units.labels
        placement = description.placement
        let units = description.units

        // The arrays, left in the mapped weights file.
        let weightsPath = try context.file(settings.weights).path
        let weights = try KeyedArrayFile(path: weightsPath)
        func array(_ reference: FeatureLinearSettings.ArrayReference, _ key: String) throws -> (ArrayInFile, String) {
            guard let keyPath = reference.keyPaths.first(where: weights.contains) else {
                _ = try weights.array(reference.keyPaths[0])  // throws, saying what the file holds there
                throw BERGError.unexpectedContent(path: weightsPath, message: "none of \(reference) is in the file (encoder.settings.\(key))")
            }
            return (try weights.array(keyPath), keyPath)
        }
        func shapeError(_ what: String, _ message: String) -> BERGError {
            BERGError.unexpectedContent(path: weightsPath, message: "\(what): \(message)")
        }

        var featureCount: Int? = nil
        if let step = settings.scaler {
            let (mean, meanKey) = try array(step.mean, "scaler.mean")
            let (scale, scaleKey) = try array(step.scale, "scaler.scale")
            guard mean.shape.count == 1, scale.shape == mean.shape else {
                throw shapeError("scaler", "'\(meanKey)' has shape \(mean.shape) and '\(scaleKey)' \(scale.shape); both must be [features]")
            }
            scaler = (try mean.floats(), try scale.floats())
            featureCount = mean.count
        } else {
            scaler = nil
        }

        var projections: [Projection] = []
        var projectionKeys: [String] = []
        func projection(_ step: FeatureLinearSettings.PCAStep?, _ key: String) throws -> Int? {
            guard let step else { return nil }
            let (components, componentsKey) = try array(step.components, "\(key).components")
            guard components.shape.count == 2 else {
                throw shapeError(key, "'\(componentsKey)' has shape \(components.shape); expected [components, features]")
            }
            var mean: [Float]? = nil
            var meanKey = ""
            if let reference = step.mean {
                let (m, k) = try array(reference, "\(key).mean")
                guard m.count == components.shape[1] else {
                    throw shapeError(key, "'\(k)' has shape \(m.shape) but '\(componentsKey)' \(components.shape); the mean needs one value per feature")
                }
                mean = try m.floats()
                meanKey = k
            }
            if let featureCount, components.shape[1] != featureCount {
                throw shapeError(key, "'\(componentsKey)' has shape \(components.shape) but the scaler has \(featureCount) features")
            }
            featureCount = components.shape[1]
            let identity = componentsKey + "|" + meanKey
            if let known = projectionKeys.firstIndex(of: identity) { return known }
            projectionKeys.append(identity)
            projections.append(Projection(components: components, mean: mean))
            return projections.count - 1
        }
        let shared = try projection(settings.pca, "pca")

        var readouts: [Readout] = []
        var outputs: [(name: String, shape: [Int], readouts: [Int])] = []
        for (index, spec) in settings.readouts.enumerated() {
            let key = "readouts[\(index)]"
            let projectionIndex = try spec.pca.map { try projection($0, "\(key).pca") } ?? shared
            let (coef, coefKey) = try array(spec.coef, "\(key).coef")
            let (unitCount, inputs) = coef.matrixShape
            let expectedInputs = projectionIndex.map { projections[$0].count } ?? featureCount
            if let expectedInputs, inputs != expectedInputs {
                throw shapeError(key, "'\(coefKey)' has shape \(coef.shape) but its input has \(expectedInputs) values (\(projectionIndex != nil ? "PCA components" : "features"))")
            }
            featureCount = featureCount ?? (projectionIndex == nil ? inputs : nil)
            let layout = settings.outputs?[spec.output]?.axes
            if let layout, layout.reduce(1, { $0 * $1.size }) != unitCount {
                throw shapeError(key, "'\(coefKey)' has \(unitCount) rows, but outputs.\(spec.output) declares \(layout.map { String($0.size) }.joined(separator: " × ")) units")
            }
            // Rows in output order: the cartesian product of each axis' picked indices (C order).
            var rows: [Int]? = nil
            if let layout, units.picks[spec.output] != nil {
                var picked = [0]
                for axis in layout {
                    let indices = units.indices(spec.output, axis)
                    picked = picked.flatMap { base in indices.map { base * axis.size + $0 } }
                }
                rows = picked
            }
            var intercept = [Float](repeating: 0, count: rows?.count ?? unitCount)
            if let reference = spec.intercept {
                let (b, bKey) = try array(reference, "\(key).intercept")
                guard b.count == unitCount else {
                    throw shapeError(key, "'\(bKey)' has shape \(b.shape) but '\(coefKey)' \(coef.shape); the intercept needs one value per row")
                }
                let all = try b.floats()
                intercept = rows.map { $0.map { all[$0] } } ?? all
            }
            // Picked rows are copied (a ROI's few); a whole readout stays in the file.
            let matrix = try rows.map { try ArrayInFile(floats: coef.floats(rows: $0), shape: [$0.count, inputs]) } ?? coef
            readouts.append(Readout(coef: matrix, intercept: intercept, projection: projectionIndex))
            let shape = layout.map { $0.map { units.indices(spec.output, $0).count } } ?? [intercept.count]
            if let at = outputs.firstIndex(where: { $0.name == spec.output }) {
                guard outputs[at].shape == shape else {
                    throw shapeError(key, "readouts stacked into '\(spec.output)' give \(outputs[at].shape) and \(shape) units")
                }
                outputs[at].readouts.append(index)
            } else {
                outputs.append((spec.output, shape, [index]))
            }
        }
        for at in outputs.indices where outputs[at].readouts.count > 1 {
            outputs[at].shape.insert(outputs[at].readouts.count, at: 0)
        }
        self.projections = projections
        self.readouts = readouts
        self.outputs = outputs

        let backbonePath = try context.file(settings.backbone).path
        let network = try FeatureLinearEncoder.network(settings.network, stateDict: TorchCheckpoint(path: backbonePath).stateDict(), path: backbonePath)
        self.network = network
        nodes = try settings.layers.map {
            try FeatureLinearEncoder.node(forModule: $0, network: settings.network, in: network.nodeNames, model: manifest.modelID)
        }
        expectedFeatures = featureCount
    }

    /// Features per image the weights expect (nil when nothing says).
    let expectedFeatures: Int?

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        var parts: [String: [Float]] = [:]
        var start = 0
        while start < stimulus.count {
            let range = start ..< min(start + batchSize, stimulus.count)
            let batch = range.count == stimulus.count ? stimulus : stimulus.batch(range)
            for (name, values) in try encodeBatch(batch) {
                if parts[name] == nil { parts[name] = values } else { parts[name]! += values }
            }
            start = range.upperBound
            progress?.report(completed: start, total: stimulus.count, message: "images")
        }
        var responses: [String: Tensor] = [:]
        for output in outputs {
            responses[output.name] = try Tensor(shape: [stimulus.count] + output.shape, floats: parts[output.name] ?? [])
        }
        return EncodingResult(responses: responses, metadata: metadata, stimulusNames: stimulus.names,
                              placement: placement, labels: labels)
    }

    /// One batch: output name → its responses, image-major.
    func encodeBatch(_ stimulus: Stimulus) throws -> [String: [Float]] {
        let n = stimulus.count
        let input = try ComputeProfile.measure("preprocessing") { try preprocessing.apply(stimulus) }
        var activations = try network.forward(input, outputs: nodes)
        var (x, features) = try ComputeProfile.measure("features") { try self.features(&activations, images: n) }
        let projected = ComputeProfile.measure("pca") { project(&x, images: n, features: features) }
        return ComputeProfile.measure("readouts") {
            var result: [String: [Float]] = [:]
            for output in outputs {
                let perReadout = output.readouts.map { readouts[$0].units }.reduce(0, +)
                var out = [Float](repeating: 0, count: n * perReadout)
                var column = 0
                for index in output.readouts {
                    let readout = readouts[index]
                    let source = readout.projection.map { projected[$0] } ?? x
                    let width = readout.projection.map { projections[$0].count } ?? features
                    source.withUnsafeBufferPointer { s in
                        out.withUnsafeMutableBufferPointer { o in
                            readout.coef.multiplyTransposed(s.baseAddress!, n: n, ldx: width, into: o.baseAddress! + column, ldy: perReadout)
                            for i in 0..<n {
                                for u in 0..<readout.units { o[i * perReadout + column + u] += readout.intercept[u] }
                            }
                        }
                    }
                    column += readout.units
                }
                result[output.name] = out
            }
            return result
        }
    }

    /// The layers' outputs flattened per image and concatenated, z-scored and scaled:
    /// [images + 1, F] (the last row is left for a PCA's mean), and F.
    func features(_ activations: inout [String: Tensor], images n: Int) throws -> (x: [Float], features: Int) {
        let perImage = try nodes.map { node -> Int in
            guard let t = activations[node], t.rank >= 1, t.shape[0] == n else {
                throw BERGError.unexpectedContent(path: modelID, message: "the network gave no output for \(node)")
            }
            return t.count / n
        }
        let features = perImage.reduce(0, +)
        if let expectedFeatures, expectedFeatures != features {
            throw BERGError.shapeMismatch(what: "\(modelID): features per image from layers \(nodes.joined(separator: ", ")) (the weights expect \(expectedFeatures))",
                                          expected: [expectedFeatures], actual: [features])
        }
        var x = [Float](repeating: 0, count: (n + 1) * features)
        var offset = 0
        for (node, width) in zip(nodes, perImage) {
            let values = activations.removeValue(forKey: node)!.floats  // each layer freed once copied
            x.withUnsafeMutableBufferPointer { out in
                values.withUnsafeBufferPointer { v in
                    for i in 0..<n { (out.baseAddress! + i * features + offset).update(from: v.baseAddress! + i * width, count: width) }
                }
            }
            offset += width
        }
        x.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<n {
                let row = UnsafeMutableBufferPointer(rebasing: buffer[i * features ..< (i + 1) * features])
                if zscore { FeatureLinearEncoder.zscore(row) }
                if let scaler {
                    // scikit-learn casts mean_ and scale_ to float32 and divides (no reciprocal).
                    for j in 0..<features { row[j] = (row[j] - scaler.mean[j]) / scaler.scale[j] }
                }
            }
        }
        return (x, features)
    }

    /// Each distinct PCA once: x·Cᵀ − mean·Cᵀ [images, C]. The mean goes into x's spare last
    /// row, so that mean·Cᵀ comes out of the same pass over C (read straight from the file).
    func project(_ x: inout [Float], images n: Int, features: Int) -> [[Float]] {
        projections.map { p in
            var y = [Float](repeating: 0, count: (n + 1) * p.count)
            x.withUnsafeMutableBufferPointer { xb in
                let meanRow = xb.baseAddress! + n * features
                if let mean = p.mean { mean.withUnsafeBufferPointer { meanRow.update(from: $0.baseAddress!, count: features) } }
                else { meanRow.update(repeating: 0, count: features) }
                y.withUnsafeMutableBufferPointer { yb in
                    p.components.multiplyTransposed(xb.baseAddress!, n: n + 1, ldx: features, into: yb.baseAddress!, ldy: p.count)
                }
            }
            for i in 0..<n { for j in 0..<p.count { y[i * p.count + j] -= y[n * p.count + j] } }
            y.removeLast(p.count)
            return y
        }
    }

    /// (x − mean) / std across one image's units, population std (ddof 0), in double.
    static func zscore(_ row: UnsafeMutableBufferPointer<Float>) {
        guard !row.isEmpty else { return }
        var sum = 0.0, squares = 0.0
        for v in row { sum += Double(v) }
        let mean = sum / Double(row.count)
        for v in row { let d = Double(v) - mean; squares += d * d }
        let std = (squares / Double(row.count)).squareRoot()
        for j in row.indices { row[j] = Float((Double(row[j]) - mean) / std) }
    }

    // MARK: Metadata, selection and placement without the weights

    /// The model's metadata (the metadata artifact's dict, plus the units a selection picked),
    /// the picked units and labels, and where the outputs lie.
    static func describe(context: EncoderContext, settings: FeatureLinearSettings)
        throws -> (metadata: Metadata, units: FeatureLinearUnits, placement: ResponsePlacement?) {
        let manifest = context.manifest
        let file = try settings.metadataArtifact.map { try context.file($0).path }
        let contents = try file.map { try NPYFile.readObject($0) }
        let units = try FeatureLinearUnits.resolve(context.selection, settings: settings, model: manifest.modelID, metadata: contents)
        var metadata = contents?.toMetadata() ?? Metadata()
        var picked = Metadata()
        for output in settings.outputNames {
            guard let axes = units.picks[output] else { continue }
            var group = Metadata()
            for (axis, indices) in axes.sorted(by: { $0.key < $1.key }) {
                group[axis] = .tensor(try Tensor(shape: [indices.count], int64s: indices.map(Int64.init)))
            }
            picked[output] = .group(group)
        }
        if !picked.isEmpty { metadata["selected_units"] = .group(picked) }
        var placement: ResponsePlacement? = nil
        if manifest.placement == .surface, let mesh = settings.mesh {
            var counts: [String: Int] = [:], vertices: [String: [Int]] = [:]
            for output in settings.outputNames {
                guard let axis = settings.outputs?[output]?.axes.first else { continue }
                counts[output] = axis.size
                vertices[output] = units.indices(output, axis)
            }
            placement = .surface(try SurfacePlacement(mesh: mesh, vertexCount: counts, vertices: vertices))
        }
        return (metadata, units, placement)
    }

    // MARK: Networks by name

    static func network(_ name: String, stateDict: [String: Tensor], path: String) throws -> any FeatureNetwork {
        switch name {
        case "alexnet": return try AlexNet(stateDict: stateDict)
        case "resnet18": return try ResNet18(stateDict: stateDict)
        case "vit_b_32": return try VisionTransformer(stateDict: stateDict)
        default: throw BERGError.unsupported("\(path): network '\(name)' is not one of \(FeatureLinearSettings.networks.joined(separator: ", "))")
        }
    }

    /// The network's node that gives a PyTorch module's output. torchvision's ViT block
    /// `encoder.layers.encoder_layer_K` ends in the residual add `…encoder_layer_K.add_1`;
    /// AlexNet's and ResNet-18's nodes carry their module names already.
    static func node(forModule module: String, network: String, in nodes: [String], model: String = "") throws -> String {
        var node = module
        if network == "vit_b_32", module.hasPrefix("encoder.layers.encoder_layer_"), !module.hasSuffix(".add"), !module.hasSuffix(".add_1") {
            node = module + ".add_1"
        }
        guard nodes.contains(node) else {
            let modules = network == "vit_b_32"
                ? nodes.filter { !$0.hasSuffix(".add") }.map { $0.hasSuffix(".add_1") ? String($0.dropLast(6)) : $0 }
                : nodes
            throw BERGError.invalidManifest(file: model.isEmpty ? network : model, keyPath: "encoder.settings.layers",
                                            message: "'\(module)' is not a layer of this \(network); layers: \(modules.joined(separator: ", "))")
        }
        return node
    }
}

