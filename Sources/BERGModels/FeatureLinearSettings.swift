import BERGCore
import BERGRegistry

/// The manifest's `encoder.settings` for the `feature-linear` kind: DNN features by layer
/// name → (optional) per-image z-score → (optional) StandardScaler → (optional) PCA →
/// linear readouts. The README's "Adding a model" shows a whole manifest.
public struct FeatureLinearSettings: EncoderSettingsType, Equatable {
    /// The torchvision architecture of the `backbone_artifact`'s state_dict.
    public var network: String
    public var backboneArtifact: String?
    /// PyTorch module names (`named_modules`), such as `encoder.layers.encoder_layer_0` or
    /// `features.2`; each layer's output is flattened per image in C order and the layers are
    /// concatenated in this order.
    public var layers: [String]
    /// z-score each image's feature vector across its units (mean 0, population std 1).
    public var zscoreFeatures: Bool?
    /// The artifact holding the arrays (a `.npy` of a pickled dict, or an `.npz`).
    public var weightsArtifact: String?
    /// The artifact holding the model's metadata (a `.npy` of a pickled dict): returned as
    /// the model's metadata, and where `roi` lookups and axis labels are read. It must be the
    /// artifact named `metadata`, the one `berg metadata` fetches without the weights.
    public var metadataArtifact: String?
    /// x = (x − mean) / scale, in float32.
    public var scaler: Scaler?
    /// x = x·Cᵀ − mean·Cᵀ, for every readout without a `pca` of its own.
    public var pca: PCAStep?
    /// One per output, or several stacked into one output (after the images axis, in order).
    public var readouts: [Readout]
    /// Per output: the axes of one readout's units (C order), when they are selected along
    /// or labelled. Without an entry an output's units are one unnamed axis.
    public var outputs: [String: OutputLayout]?
    /// Per selection key (the manifest's `parameters.selection`): how its value picks units.
    public var selections: [String: SelectionRule]?
    /// The surface mesh of `placement: surface` models, such as `fsaverage`.
    public var mesh: String?

    public static let networks = ["alexnet", "resnet18", "vit_b_32"]

    public struct Scaler: Decodable, Sendable, Equatable {
        public var mean: ArrayReference
        public var scale: ArrayReference
    }

    public struct PCAStep: Decodable, Sendable, Equatable {
        public var components: ArrayReference
        public var mean: ArrayReference?
    }

    public struct Readout: Decodable, Sendable, Equatable {
        public var output: String
        public var coef: ArrayReference
        public var intercept: ArrayReference?
        /// This readout's own PCA (BERG's per-repetition PCA) instead of the shared one.
        public var pca: PCAStep?
    }

    public struct OutputLayout: Decodable, Sendable, Equatable {
        public var axes: [Axis]
    }

    public struct Axis: Decodable, Sendable, Equatable {
        public var name: String
        public var size: Int
        /// Values along the axis, written beside the responses for the selected units:
        /// their name in the output (`ch_names`) → a key path into the metadata artifact.
        public var labels: [String: String]?
    }

    /// How a selection value picks units along one axis.
    public struct SelectionRule: Decodable, Sendable, Equatable {
        /// `roi`: the value names index lists in the metadata (`indices`);
        /// `names`: comma-separated labels of the axis, output in the order given;
        /// `index`: `START:STOP` (Python-style) or a `.npy` mask over the axis (nonzero = selected).
        public var by: String
        /// The axis it picks along (default: the outputs' only axis).
        public var axis: String?
        /// The outputs it applies to (default: every output with the axis; for `roi`, those in `indices`).
        public var outputs: [String]?
        /// `roi`: output → key path of its ascending unit indices, `{value}` standing for the value.
        public var indices: [String: String]?
        /// `roi`: another spelling of a value → the spelling the metadata uses.
        public var aliases: [String: String]?
        /// Selection keys ignored when this one is given (BERG: `roi` wins over vertex masks).
        public var replaces: [String]?

        public static let kinds = ["roi", "names", "index"]
    }

    /// A key path into the weights artifact, or several tried in order (the first the file
    /// holds is used: files of different versions of a model).
    public struct ArrayReference: Decodable, Sendable, Equatable, CustomStringConvertible {
        public var keyPaths: [String]
        public init(_ keyPaths: [String]) { self.keyPaths = keyPaths }
        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { keyPaths = [one] }
            else { keyPaths = try container.decode([String].self) }
        }
        public var description: String { keyPaths.joined(separator: " or ") }
    }

    public var backbone: String { backboneArtifact ?? "backbone" }
    public var weights: String { weightsArtifact ?? "weights" }

    public func validate() throws {
        guard FeatureLinearSettings.networks.contains(network) else {
            throw SettingsProblem("network", "'\(network)' is not one of \(FeatureLinearSettings.networks.joined(separator: ", "))")
        }
        guard !layers.isEmpty else { throw SettingsProblem("layers", "list at least one layer (a PyTorch module name)") }
        if let repeated = layers.first(where: { name in layers.filter { $0 == name }.count > 1 }) {
            throw SettingsProblem("layers", "'\(repeated)' is listed twice")
        }
        guard !readouts.isEmpty else { throw SettingsProblem("readouts", "list at least one readout (output, coef, intercept)") }
        for reference in allReferences where reference.reference.keyPaths.isEmpty || reference.reference.keyPaths.contains("") {
            throw SettingsProblem(reference.key, "expected a key path into the weights file")
        }
        let readoutOutputs = Set(readouts.map(\.output))
        for (name, layout) in outputs ?? [:] {
            guard readoutOutputs.contains(name) else {
                throw SettingsProblem("outputs.\(name)", "no readout writes output '\(name)'; readouts write: \(readoutOutputs.sorted().joined(separator: ", "))")
            }
            guard !layout.axes.isEmpty else { throw SettingsProblem("outputs.\(name).axes", "list at least one axis") }
            for (index, axis) in layout.axes.enumerated() {
                guard axis.size > 0 else { throw SettingsProblem("outputs.\(name).axes[\(index)].size", "must be positive") }
                if layout.axes.filter({ $0.name == axis.name }).count > 1 {
                    throw SettingsProblem("outputs.\(name).axes", "axis '\(axis.name)' is listed twice")
                }
            }
        }
        for (key, rule) in selections ?? [:] {
            let path = "selections.\(key)"
            guard SelectionRule.kinds.contains(rule.by) else {
                throw SettingsProblem("\(path).by", "'\(rule.by)' is not one of \(SelectionRule.kinds.joined(separator: ", "))")
            }
            if rule.by == "roi" {
                guard let indices = rule.indices, !indices.isEmpty else {
                    throw SettingsProblem("\(path).indices", "a roi selection maps each output to a metadata key path with {value}")
                }
                guard metadataArtifact != nil else { throw SettingsProblem("metadata_artifact", "selection '\(key)' reads the metadata; name its artifact") }
            } else if rule.indices != nil || rule.aliases != nil {
                throw SettingsProblem(path, "indices and aliases belong to by: roi")
            }
            let targets = try targets(of: key)
            for (output, axis) in targets {
                if rule.by == "roi", rule.indices?[output] == nil {
                    throw SettingsProblem("\(path).indices", "gives no key path for output '\(output)'")
                }
                guard let layout = outputs?[output], let found = layout.axes.first(where: { $0.name == axis }) else {
                    throw SettingsProblem(path, "output '\(output)' declares no axis '\(axis)' under outputs")
                }
                if rule.by == "names", !(found.labels ?? [:]).isEmpty, metadataArtifact == nil {
                    throw SettingsProblem("metadata_artifact", "selection '\(key)' reads labels from the metadata; name its artifact")
                }
                if rule.by == "names", (found.labels ?? [:]).isEmpty {
                    throw SettingsProblem(path, "names are picked against the axis' labels; give outputs.\(output) axis '\(axis)' labels")
                }
            }
            for other in rule.replaces ?? [] where selections?[other] == nil {
                throw SettingsProblem("\(path).replaces", "'\(other)' has no selection rule")
            }
        }
    }

    /// The (output, axis) pairs a selection key picks along.
    public func targets(of key: String) throws -> [(output: String, axis: String)] {
        guard let rule = selections?[key] else { return [] }
        let names: [String]
        if let listed = rule.outputs {
            names = listed
        } else if rule.by == "roi", let indices = rule.indices {
            names = indices.keys.sorted()
        } else {
            names = outputNames.filter { output in
                guard let axes = outputs?[output]?.axes else { return false }
                if let axis = rule.axis { return axes.contains { $0.name == axis } }
                return axes.count == 1
            }
        }
        guard !names.isEmpty else {
            throw SettingsProblem("selections.\(key)", "it applies to no output; name its axis and declare it under outputs")
        }
        return try names.map { output in
            if let axis = rule.axis { return (output, axis) }
            guard let axes = outputs?[output]?.axes, axes.count == 1 else {
                throw SettingsProblem("selections.\(key).axis", "output '\(output)' has several axes (or none declared); say which one")
            }
            return (output, axes[0].name)
        }
    }

    /// The outputs the readouts write, in first-written order.
    public var outputNames: [String] {
        readouts.map(\.output).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }

    /// Every array reference with its settings key, for messages.
    var allReferences: [(key: String, reference: ArrayReference)] {
        var out: [(String, ArrayReference)] = []
        if let scaler { out += [("scaler.mean", scaler.mean), ("scaler.scale", scaler.scale)] }
        if let pca { out.append(("pca.components", pca.components)); if let m = pca.mean { out.append(("pca.mean", m)) } }
        for (i, r) in readouts.enumerated() {
            out.append(("readouts[\(i)].coef", r.coef))
            if let b = r.intercept { out.append(("readouts[\(i)].intercept", b)) }
            if let p = r.pca { out.append(("readouts[\(i)].pca.components", p.components)); if let m = p.mean { out.append(("readouts[\(i)].pca.mean", m)) } }
        }
        return out
    }

    /// Checks against the rest of the manifest (`berg registry check`): readouts name its
    /// outputs, selection rules its selection keys, and a surface placement has a mesh.
    func check(against manifest: Manifest) throws {
        let fail = { (key: String, message: String) in
            BERGError.invalidManifest(file: manifest.modelID, keyPath: "encoder.settings.\(key)", message: message)
        }
        let declared = manifest.output.map(\.name)
        for (i, readout) in readouts.enumerated() where !declared.contains(readout.output) {
            throw fail("readouts[\(i)].output", "'\(readout.output)' is not one of the manifest's outputs: \(declared.joined(separator: ", "))")
        }
        for name in declared where !readouts.contains(where: { $0.output == name }) {
            throw fail("readouts", "no readout writes output '\(name)'")
        }
        let artifacts = manifest.artifacts.map(\.name)
        for (key, name) in [("backbone_artifact", backbone), ("weights_artifact", weights)] where !artifacts.contains(name) {
            throw fail(key, "'\(name)' is not one of the manifest's artifacts: \(artifacts.joined(separator: ", "))")
        }
        if let name = metadataArtifact {
            // `berg metadata` fetches only the artifact named metadata (EncoderKind.metadataArtifacts).
            guard name == "metadata", artifacts.contains(name) else {
                throw fail("metadata_artifact", "the metadata file is the artifact named 'metadata' (so that `berg metadata` fetches only it); got '\(name)'\(artifacts.contains(name) ? "" : ", which the manifest does not list")")
            }
        }
        let keys = manifest.parameters.selection.properties
        for key in (selections ?? [:]).keys.sorted() where keys[key] == nil {
            throw fail("selections.\(key)", "'\(key)' is not a selection key of this manifest (parameters.selection)")
        }
        for key in keys.keys.sorted() where selections?[key] == nil {
            throw fail("selections", "selection key '\(key)' has no rule saying how it picks units")
        }
        for (key, rule) in selections ?? [:] where rule.by == "roi" && keys[key]?.isText == true {
            throw fail("selections.\(key)", "a roi selection needs the ROI names as valid_values (type string)")
        }
        for (key, rule) in selections ?? [:] where rule.by != "roi" && keys[key]?.isText == false {
            throw fail("selections.\(key)", "a \(rule.by) selection takes free text: declare '\(key)' with type text")
        }
        switch manifest.placement {
        case .surface?:
            guard mesh != nil else { throw fail("mesh", "a surface-placed model names its mesh, such as fsaverage") }
            for name in declared where (outputs?[name]?.axes.count ?? 0) != 1 || readouts.filter({ $0.output == name }).count != 1 {
                throw fail("outputs.\(name)", "on a surface each output is one readout with one axis (its vertices, with their count)")
            }
        case .volume?, .visualField?:
            throw fail("", "feature-linear places outputs on a surface or nowhere; placement \(manifest.placement!.rawValue) is not supported")
        case nil:
            if mesh != nil { throw fail("mesh", "a mesh needs placement: surface") }
        }
    }
}
