import BERGCompute
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// img2fmri (Bennett & Baldassano 2023) on BOLD5000: torchvision's ImageNet ResNet-18 up to
/// global average pooling (512 features per image), then one scikit-learn `Ridge` per subject
/// and ROI, read from the pickles in the img2fmri wheel.
///
/// Each ROI's outputs are its left-hemisphere voxels, then its right-hemisphere voxels, each in
/// NumPy's C-order boolean indexing of the subject's mask (`mask > 0`). With `roi=all` the
/// five ROIs follow one another in the manifest's order.
///
/// Predictions stay in the subject's space. With the option `space=mni` the kind builds
/// `Img2fmriGroupMNI` instead: img2fmri's group average in MNI space.
public struct Img2fmriEncoder: EncodingModel {
    public static let kind = EncoderKind(
        name: "img2fmri", settings: Img2fmriSettings.self, requiresPreprocessing: true,
        builder: { context, settings -> any EncodingModel in
            if context.options.string("space") == "mni" { return try Img2fmriGroupMNI(context: context, settings: settings) }
            return try Img2fmriEncoder(context: context, settings: settings)
        },
        metadata: { context, settings in
            if context.options.string("space") == "mni" { return try Img2fmriGroupMNI(context: context, settings: settings).metadata }
            return try Img2fmriReadout(context: context, settings: settings).metadata
        },
        // The ridge pickles and masks (subject space) or the group files (space=mni), not the backbone.
        metadataArtifacts: ["package", "group"])

    public let modelID: String
    public let subject: Subject
    public let selection: Selection
    public let device: Device
    public var metadata: Metadata { readout.metadata }
    public var placement: ResponsePlacement? { readout.placement }

    let backbone: Img2fmriBackbone
    let readout: Img2fmriReadout

    /// The model a context describes, with the manifest's settings decoded.
    public init(context: EncoderContext) throws {
        try self.init(context: context, settings: SettingsDecoder.decode(Img2fmriSettings.self, from: context.manifest))
    }

    public init(context: EncoderContext, settings: Img2fmriSettings) throws {
        modelID = context.manifest.modelID
        subject = context.subject
        selection = context.selection
        device = try context.device.resolved()
        readout = try Img2fmriReadout(context: context, settings: settings)
        backbone = try Img2fmriBackbone(context: context, featureCount: readout.featureCount)
    }

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        let voxels = readout.voxelCount
        var responses = [Float](repeating: 0, count: stimulus.count * voxels)
        try backbone.forEachBatch(of: stimulus, progress: progress) { range, features in
            let predicted = try readout.predict(features).floats
            responses.replaceSubrange(range.lowerBound * voxels ..< range.upperBound * voxels, with: predicted)
        }
        var metadata = readout.metadata
        metadata["center_crop"] = .bool(backbone.centerCrop)
        return EncodingResult(responses: ["responses": try Tensor(shape: [stimulus.count, voxels], floats: responses)],
                              metadata: metadata, stimulusNames: stimulus.names, placement: placement)
    }
}

/// torchvision's ImageNet ResNet-18 up to global average pooling (512 features per image), with
/// img2fmri's preprocessing of each image.
struct Img2fmriBackbone: Sendable {
    let network: ResNet18
    /// The manifest's preprocessing, or with `center_crop` the shorter side to the input size
    /// and a centre crop (img2fmri's option).
    let preprocessing: Preprocessing
    /// img2fmri's `center_crop`: Resize(224) of the shorter side + CenterCrop(224) instead of
    /// Resize((224, 224)).
    let centerCrop: Bool
    /// Images per forward pass; bounds the memory of the network's activations.
    let batchSize = 32

    /// The `backbone` artifact, with the `center_crop` option; its features must number
    /// `featureCount` (what the Ridge models take).
    init(context: EncoderContext, featureCount: Int) throws {
        centerCrop = context.options.bool("center_crop") ?? false
        var preprocessing = try EncoderKind.preprocessing(of: context.manifest)
        if centerCrop, let size = preprocessing.size {
            preprocessing.size = nil
            preprocessing.shorterSide = size[0]
            preprocessing.crop = size[0]
        }
        self.preprocessing = preprocessing
        let file = try context.file("backbone")
        network = try ResNet18(stateDict: TorchCheckpoint(path: file.path).stateDict())
        guard network.featureCount == featureCount else {
            throw BERGError.unexpectedContent(
                path: file.path,
                message: "this ResNet-18 gives \(network.featureCount) features per image, but the Ridge models take \(featureCount); use torchvision's resnet18-f37072fd.pth")
        }
    }

    /// Runs the network over `stimulus` a batch at a time, handing each batch's image range and
    /// features [batch, 512] to `body`.
    func forEachBatch(of stimulus: Stimulus, progress: ProgressReporter?,
                      _ body: (Range<Int>, Tensor) throws -> Void) throws {
        var start = 0
        while start < stimulus.count {
            let range = start..<min(start + batchSize, stimulus.count)
            let input = try preprocessing.apply(stimulus.batch(range))
            guard let features = try network.forward(input, outputs: ["flatten"])["flatten"] else {
                throw BERGError.unexpectedContent(path: "ResNet-18", message: "the network gave no avgpool features")
            }
            try body(range, features)
            start = range.upperBound
            progress?.report(completed: start, total: stimulus.count, message: "images")
        }
    }
}

/// The manifest's `encoder.settings` for the img2fmri kind.
public struct Img2fmriSettings: EncoderSettingsType, Equatable {
    /// Features per image from the backbone (ResNet-18's average pooling: 512).
    public var featureSize: Int
    /// The ROI names in the order of the wheel's voxel-count table.
    public var rois: [String]
    /// Paths inside the wheel; `{subject}`, `{roi}` and `{hemisphere}` (LH or RH) are filled in.
    public var ridgeMember: String
    public var maskMember: String
    public var countsMember: String
    /// img2fmri's group-level files (the `space=mni` option); nil: the model has no MNI space.
    public var mni: Img2fmriMNISettings?

    public func validate() throws {
        guard featureSize > 0 else { throw SettingsProblem("feature_size", "must be positive") }
        guard !rois.isEmpty else { throw SettingsProblem("rois", "expected the list of ROI names in shape_array order") }
        for (key, template) in [("ridge_member", ridgeMember), ("mask_member", maskMember), ("counts_member", countsMember)]
        where template.isEmpty {
            throw SettingsProblem(key, "expected a path template")
        }
        try mni?.validate()
    }
}

/// The Ridge models of the selected ROIs, stacked into one linear map, and where each output
/// voxel lies on the subject's mask grid.
struct Img2fmriReadout: Sendable {
    let rois: [String]
    let linear: Linear
    var featureCount: Int { linear.inFeatures }
    var voxelCount: Int { linear.outFeatures }
    let metadata: Metadata
    let placement: ResponsePlacement

    init(context: EncoderContext, settings: Img2fmriSettings) throws {
        let roi = context.selection["roi"] ?? ""
        let rois: [String]
        if roi == "all" {
            rois = settings.rois
        } else if settings.rois.contains(roi) {
            rois = [roi]
        } else {
            throw BERGError.invalidParameter(model: context.manifest.modelID, name: "roi", value: roi, valid: settings.rois + ["all"])
        }
        try self.init(manifest: context.manifest, subject: context.subject, selection: context.selection,
                      rois: rois, settings: settings, package: context.file("package"))
    }

    /// The readout of `rois` (in this order) for one subject, from the wheel's files in
    /// `package` (a folder in the wheel's layout, or the wheel).
    init(manifest: Manifest, subject: Subject, selection: Selection, rois: [String], settings: Img2fmriSettings,
         package packageFile: URL) throws {
        for roi in rois where !settings.rois.contains(roi) {
            throw BERGError.invalidParameter(model: manifest.modelID, name: "roi", value: roi, valid: settings.rois + ["all"])
        }
        self.rois = rois
        func memberPath(_ template: String, roi: String = "", hemisphere: String = "") -> String {
            let filled = template.replacingOccurrences(of: "{roi}", with: roi)
                .replacingOccurrences(of: "{hemisphere}", with: hemisphere)
            return Manifest.expand(filled, subject: subject, selection: selection)
        }
        var needed = [memberPath(settings.countsMember)]
        for name in rois {
            needed += [memberPath(settings.ridgeMember, roi: name),
                       memberPath(settings.maskMember, roi: name, hemisphere: "LH"),
                       memberPath(settings.maskMember, roi: name, hemisphere: "RH")]
        }
        let package = try Img2fmriReadout.packageFolder(packageFile, members: needed)
        defer { if package.isTemporary { try? FileManager.default.removeItem(at: package.folder) } }
        func member(_ template: String, roi: String = "", hemisphere: String = "") -> String {
            package.folder.appendingPathComponent(memberPath(template, roi: roi, hemisphere: hemisphere)).path
        }

        let countsPath = member(settings.countsMember)
        let counts = try NPYFile.read(countsPath)
        guard counts.shape.count == 3, counts.shape[1] == settings.rois.count, counts.shape[2] == 2,
              subject.number >= 1, subject.number <= counts.shape[0] else {
            throw BERGError.unexpectedContent(path: countsPath, message: "expected the [LH, RH] voxel counts as [subjects, \(settings.rois.count), 2] covering subject \(subject.number), got shape \(counts.shape)")
        }
        let countValues = counts.doubles

        var weights: [Float] = [], intercepts: [Float] = []
        var ijk: [Int64] = [], hemisphere: [UInt8] = [], roiIndex: [Int64] = []
        var lhCounts: [Int] = [], rhCounts: [Int] = [], alphas: [Double] = []
        var grid: NIfTIMask? = nil
        var features: Int? = nil
        for (index, name) in rois.enumerated() {
            let ridgePath = member(settings.ridgeMember, roi: name)
            let ridge = try Img2fmriReadout.readRidge(ridgePath)
            let lh = try NIfTIMask(path: member(settings.maskMember, roi: name, hemisphere: "LH"))
            let rh = try NIfTIMask(path: member(settings.maskMember, roi: name, hemisphere: "RH"))
            for mask in [lh, rh] {
                let reference = grid ?? mask
                guard mask.shape == reference.shape, mask.affine == reference.affine else {
                    throw BERGError.unexpectedContent(path: mask.path, message: "its grid \(mask.shape) or affine differs from \(reference.path)'s; a subject's masks must share one grid")
                }
                grid = reference
            }
            let row = ((subject.number - 1) * settings.rois.count + settings.rois.firstIndex(of: name)!) * 2
            let expected = [Int(countValues[row]), Int(countValues[row + 1])]
            guard expected == [lh.count, rh.count] else {
                throw BERGError.unexpectedContent(path: lh.path, message: "the LH and RH masks hold \(lh.count) and \(rh.count) voxels, but \(countsPath) says \(expected); the package's files do not belong together")
            }
            guard ridge.weight.shape[0] == lh.count + rh.count else {
                throw BERGError.unexpectedContent(path: ridgePath, message: "the Ridge predicts \(ridge.weight.shape[0]) voxels, but the masks hold \(lh.count) + \(rh.count)")
            }
            if let features, features != ridge.weight.shape[1] {
                throw BERGError.unexpectedContent(path: ridgePath, message: "the Ridge takes \(ridge.weight.shape[1]) features, the other ROIs' take \(features)")
            }
            features = ridge.weight.shape[1]
            weights += ridge.weight.floats
            intercepts += ridge.intercept.floats
            for (side, mask) in [lh, rh].enumerated() {
                ijk += mask.indices.map(Int64.init)
                hemisphere += [UInt8](repeating: UInt8(side), count: mask.count)
                roiIndex += [Int64](repeating: Int64(index), count: mask.count)
            }
            lhCounts.append(lh.count)
            rhCounts.append(rh.count)
            alphas.append(ridge.alpha)
        }
        let voxels = intercepts.count
        linear = try Linear(weight: try Tensor(shape: [voxels, features ?? 0], floats: weights),
                            bias: try Tensor(shape: [voxels], floats: intercepts))

        var metadata = Metadata()
        metadata["roi_names"] = .strings(rois)
        if rois.count == 1 {
            metadata["lh_count"] = .int(lhCounts[0])
            metadata["rh_count"] = .int(rhCounts[0])
            metadata["ridge_alpha"] = .double(alphas[0])
        } else {
            metadata["lh_count"] = .tensor(try Tensor(shape: [rois.count], int64s: lhCounts.map(Int64.init)))
            metadata["rh_count"] = .tensor(try Tensor(shape: [rois.count], int64s: rhCounts.map(Int64.init)))
            metadata["ridge_alpha"] = .tensor(try Tensor(shape: [rois.count], doubles: alphas))
        }
        metadata["voxel_ijk"] = .tensor(try Tensor(shape: [voxels, 3], int64s: ijk))
        metadata["hemisphere"] = .tensor(try Tensor(shape: [voxels], bytes: hemisphere))
        metadata["roi_index"] = .tensor(try Tensor(shape: [voxels], int64s: roiIndex))
        metadata["volume_shape"] = .tensor(try Tensor(shape: [3], int64s: (grid?.shape ?? []).map(Int64.init)))
        metadata["affine"] = .tensor(try Tensor(shape: [4, 4], doubles: grid?.affine ?? []))
        self.metadata = metadata
        guard let grid else { throw BERGError.invalidSelection(model: manifest.modelID, message: "no ROI selected") }
        placement = .volume(try VolumePlacement(gridShape: grid.shape, affine: grid.affine, voxels: ["responses": ijk.map(Int.init)]))
    }

    /// The folder that holds the wheel's members: the `package` artifact itself (the store's
    /// cache keeps them in the wheel's layout), or, when it is the `.whl` file (as
    /// `--artifact package=img2fmri-1.0-py3-none-any.whl` gives it, checked against the
    /// manifest's SHA-256), a temporary folder with the members this selection reads.
    static func packageFolder(_ package: URL, members: [String]) throws -> (folder: URL, isTemporary: Bool) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: package.path, isDirectory: &isFolder) else {
            throw BERGError.fileNotFound(path: package.path, hint: "the img2fmri package: a folder in the wheel's layout, or the img2fmri-1.0 wheel")
        }
        if isFolder.boolValue { return (package, false) }
        let wheel = try ZipArchive(path: package.path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berg-img2fmri-\(UUID().uuidString)")
        do {
            for name in Set(members) {
                guard let entry = wheel.entry(named: name) else {
                    throw BERGError.unexpectedContent(path: package.path, message: "the wheel has no member \(name); expected img2fmri 1.0")
                }
                let target = folder.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try wheel.contents(of: entry).write(to: target)
            }
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
        return (folder, true)
    }

    /// responses [N, V] = features [N, F] · coefᵀ + intercept, as `Ridge.predict`.
    func predict(_ features: Tensor) throws -> Tensor {
        try linear(features)
    }

    /// A scikit-learn `Ridge` pickle's fitted state: `coef_` [V, F], `intercept_` [V], `alpha`.
    /// The pickle is read inertly; nothing in it runs.
    static func readRidge(_ path: String) throws -> (weight: Tensor, intercept: Tensor, alpha: Double) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BERGError.fileNotFound(path: path, hint: "the img2fmri package lacks this Ridge model; fetch the model's files again")
        }
        guard case .ridge(let ridge) = try SklearnEstimator.load(path), ridge.coef.rank == 2 else {
            throw BERGError.unexpectedContent(path: path, message: "expected a fitted scikit-learn Ridge with one output per voxel")
        }
        return (ridge.coef, try Tensor(shape: [ridge.targets], floats: ridge.intercept), ridge.alpha ?? .nan)
    }
}

/// One ROI mask (`> 0` is inside) and its voxels' (i, j, k) in NumPy's C-order boolean indexing.
struct NIfTIMask: Sendable {
    let path: String
    let shape: [Int]
    let affine: [Double]
    /// [count, 3] flattened.
    let indices: [Int]
    var count: Int { indices.count / 3 }

    init(path: String) throws {
        let image = try NIfTIFile.read(path)
        guard image.shape.count == 3 || (image.shape.count == 4 && image.shape[3] == 1) else {
            throw BERGError.unexpectedContent(path: path, message: "an ROI mask must be a 3-D volume, got shape \(image.shape)")
        }
        let data = try image.data()
        let volume = try Tensor(shape: Array(image.shape.prefix(3)), storage: data.storage)
        self.path = path
        shape = volume.shape
        affine = image.affine.flatMap { $0 }
        indices = NIfTIFile.maskIndices(volume).flatMap { $0 }
    }
}
