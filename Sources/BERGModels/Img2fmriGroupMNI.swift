import BERGCompute
import BERGCore
import BERGFormats
import BERGRegistry
import Foundation

/// img2fmri's default output: a group-average brain in MNI space (2 mm, 91 × 109 × 91), without
/// FSL or AFNI.
///
/// img2fmri's `predict` (img2fmri 1.0, `predict.py`), step by step, and what runs here:
/// 1. ResNet-18 features, then each BOLD5000 subject's Ridge models (`Img2fmriReadout`).
/// 2. Each subject's volume on its own 2 mm grid: the ROIs in the order asked for, LH mask then
///    RH mask, each voxel a running `nanmean` of the value so far and the new one (so where ROIs
///    overlap, later ones weigh more); NaN elsewhere.
/// 3. AFNI `3dresample -master T1` (nearest neighbour) onto the subject's 1 mm T1 grid. AFNI
///    reads the float64 volume as float32 and turns its NaN into 0.
/// 4. FSL `applywarp --interp=nn --premat=T1_nonroi2roi.mat --warp=T1_to_MNI_nonlin_coeff
///    --ref=T1_to_MNI_nonlin` into MNI.
/// 5. FSL `fslmaths -s σ` (σ = 1 mm by default).
/// 6. Inside the overlap mask of the ROIs (`utils.get_subj_overlap`, the union of
///    `group_mni_bool_masks/{ROI}`), each subject's values are z-scored across voxels, summed
///    over the three subjects, and the sum z-scored again; 0 outside the mask.
///
/// Steps 2–5 are linear and nearest-neighbour, so for each subject they fold into one sparse
/// matrix from the Ridge outputs to the smoothed values at the mask's voxels
/// (`Img2fmriSubjectProjection`); each image then costs a sparse product per subject.
public struct Img2fmriGroupMNI: EncodingModel {
    public let modelID: String
    /// Subject 0: the group of all the manifest's subjects (`metadata["subjects"]`).
    public let subject = Subject(0)
    public let selection: Selection
    public let device: Device
    public let metadata: Metadata
    /// The mask's voxels on the MNI grid; 0 elsewhere in a volume, as img2fmri writes it.
    public let placement: ResponsePlacement?
    /// The smoothing σ in mm.
    public let sigma: Double
    /// The ROIs predicted, in img2fmri's `roi_list` order.
    public let rois: [String]
    /// The MNI grid.
    public let reference: VolumeGrid
    /// The overlap mask's voxels, C-order indices into `reference`, ascending.
    public let maskVoxels: [Int]
    /// Nil when the context has no `backbone` file: then only `predict(features:)` works.
    let backbone: Img2fmriBackbone?
    let projections: [Img2fmriSubjectProjection]

    /// The model a context describes, with the manifest's settings decoded.
    public init(context: EncoderContext) throws {
        try self.init(context: context, settings: SettingsDecoder.decode(Img2fmriSettings.self, from: context.manifest))
    }

    /// Builds the group model from `context.files["group"]` (the wheel's members in its layout,
    /// or the wheel) and, when given, `context.files["backbone"]` (without it only
    /// `predict(features:)` works). `rois` nil: the option `roi_list` (names joined by commas,
    /// in order) when set, else the selection's `roi` (`all` or one name); `sigma` nil: the
    /// option `sigma` (1 mm by default).
    public init(context: EncoderContext, settings: Img2fmriSettings, rois: [String]? = nil, sigma: Double? = nil) throws {
        let id = context.manifest.modelID
        guard let mni = settings.mni else {
            throw BERGError.invalidParameter(model: id, name: "space", value: "mni", valid: ["subject"])
        }
        let listed = (context.options.string("roi_list") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let roi = context.selection["roi"] ?? "all"
        let chosen = rois ?? (!listed.isEmpty ? listed : roi == "all" ? settings.rois : [roi])
        guard !chosen.isEmpty, Set(chosen).count == chosen.count else {
            throw BERGError.invalidParameter(model: id, name: "roi_list", value: chosen.joined(separator: ","), valid: ["distinct names of " + settings.rois.joined(separator: ", ")])
        }
        for roi in chosen where !settings.rois.contains(roi) {
            throw BERGError.invalidParameter(model: id, name: "roi", value: roi, valid: settings.rois + ["all"])
        }
        let sigma = sigma ?? context.options.number("sigma") ?? 1.0
        guard sigma > 0, sigma.isFinite, sigma <= 20 else {
            throw BERGError.invalidParameter(model: id, name: "sigma", value: String(sigma), valid: ["a number of mm in (0, 20]"])
        }
        modelID = id
        selection = context.selection
        device = try context.device.resolved()
        self.sigma = sigma
        self.rois = chosen

        let threads = ComputeThreads.count
        let groupFile = try context.file("group")
        // Each subject's grid comes from the header of its first ROI's LH mask.
        func maskMember(_ s: Int) -> String {
            Manifest.expand(settings.maskMember.replacingOccurrences(of: "{roi}", with: chosen[0])
                .replacingOccurrences(of: "{hemisphere}", with: "LH"), subject: Subject(s), selection: context.selection)
        }
        var members: [String] = []
        for s in mni.subjects {
            for template in [mni.t1Member, mni.prematMember, mni.warpMember, mni.referenceMember] {
                members.append(mni.member(template, subject: s))
            }
            members.append(maskMember(s))
        }
        members += chosen.map { mni.member(mni.groupMaskMember, roi: $0) }
        let package = try Img2fmriReadout.packageFolder(groupFile, members: members)
        defer { if package.isTemporary { try? FileManager.default.removeItem(at: package.folder) } }
        func path(_ member: String) -> String { package.folder.appendingPathComponent(member).path }

        // The MNI grid: every subject's reference and every mask must share it.
        let reference = try VolumeGrid.read(path(mni.member(mni.referenceMember, subject: mni.subjects[0])))
        var inMask = [Bool](repeating: false, count: reference.voxelCount)
        for roi in chosen {
            let file = path(mni.member(mni.groupMaskMember, roi: roi))
            let mask = try NIfTIFile.read(file)
            let grid = try VolumeGrid(header: mask.header, path: file)
            guard grid.shape == reference.shape, grid.voxelToWorld == reference.voxelToWorld else {
                throw BERGError.unexpectedContent(path: file, message: "this group mask's grid \(grid.shape) differs from the MNI reference's \(reference.shape); the package's files do not belong together")
            }
            for (index, value) in try mask.data().doubles.enumerated() where value > 0 { inMask[index] = true }
        }
        let maskVoxels = inMask.indices.filter { inMask[$0] }
        guard !maskVoxels.isEmpty else {
            throw BERGError.unexpectedContent(path: path(mni.member(mni.groupMaskMember, roi: chosen[0])), message: "the group masks of \(chosen) hold no voxel")
        }
        self.reference = reference
        self.maskVoxels = maskVoxels
        let smoothing = try GaussianSmoothing(sigma: sigma, grid: reference)
        // Only the MNI voxels the smoothing reads at the mask's voxels need the warp.
        let (ny, nz) = (reference.shape[1], reference.shape[2])
        let maskTaps = maskVoxels.map { smoothing.taps($0 / (ny * nz), $0 / nz % ny, $0 % nz) }
        var read = [Bool](repeating: false, count: reference.voxelCount)
        for taps in maskTaps { for tap in taps { read[tap.index] = true } }
        let needed = read.indices.filter { read[$0] }

        var projections: [Img2fmriSubjectProjection] = []
        for s in mni.subjects {
            let subject = Subject(s)
            let readout = try Img2fmriReadout(manifest: context.manifest, subject: subject, selection: context.selection,
                                              rois: chosen, settings: settings, package: groupFile)
            let subjectReference = try VolumeGrid.read(path(mni.member(mni.referenceMember, subject: s)))
            guard subjectReference.shape == reference.shape, subjectReference.voxelToWorld == reference.voxelToWorld else {
                throw BERGError.unexpectedContent(path: path(mni.member(mni.referenceMember, subject: s)), message: "subject \(s)'s MNI reference grid differs from subject \(mni.subjects[0])'s")
            }
            let route = Img2fmriSubjectRoute(
                subjectGrid: try VolumeGrid.read(path(maskMember(s))), t1: try VolumeGrid.read(path(mni.member(mni.t1Member, subject: s))),
                premat: try FLIRTMatrix.read(path(mni.member(mni.prematMember, subject: s))),
                warp: try FNIRTCoefficientField.read(path(mni.member(mni.warpMember, subject: s))), reference: reference)
            projections.append(try Img2fmriSubjectProjection(
                subject: subject, readout: readout, route: route, toMNI: route.resampler(voxels: needed, threads: threads),
                maskTaps: maskTaps))
        }
        guard let first = projections.first, projections.allSatisfy({ $0.readout.featureCount == first.readout.featureCount }) else {
            throw BERGError.invalidManifest(file: id, keyPath: "encoder.settings.mni.subjects", message: "expected at least one subject whose Ridge models take the same features")
        }
        self.projections = projections
        backbone = context.files["backbone"] == nil ? nil
            : try Img2fmriBackbone(context: context, featureCount: first.readout.featureCount)

        var metadata = Metadata()
        metadata["space"] = .string("mni")
        metadata["sigma"] = .double(sigma)
        metadata["roi_names"] = .strings(chosen)
        metadata["subjects"] = .tensor(try Tensor(shape: [mni.subjects.count], int64s: mni.subjects.map(Int64.init)))
        let ijk = maskVoxels.flatMap { [Int64($0 / (ny * nz)), Int64($0 / nz % ny), Int64($0 % nz)] }
        metadata["voxel_ijk"] = .tensor(try Tensor(shape: [maskVoxels.count, 3], int64s: ijk))
        metadata["volume_shape"] = .tensor(try Tensor(shape: [3], int64s: reference.shape.map(Int64.init)))
        metadata["affine"] = .tensor(try Tensor(shape: [4, 4], doubles: reference.voxelToWorld.rows.flatMap { $0 }))
        metadata["center_crop"] = .bool(context.options.bool("center_crop") ?? false)
        self.metadata = metadata
        placement = .volume(try VolumePlacement(gridShape: reference.shape, affine: reference.voxelToWorld.rows.flatMap { $0 },
                                                voxels: ["responses": ijk.map { Int($0) }], background: 0))
    }

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        guard let backbone else {
            throw BERGError.artifactMissing(name: "backbone", message: "\(modelID) needs the ResNet-18 weights to encode images; run `berg get-model \(modelID)`")
        }
        var responses = [Float](repeating: 0, count: stimulus.count * maskVoxels.count)
        try backbone.forEachBatch(of: stimulus, progress: progress) { range, features in
            let group = try predict(features: features)
            responses.replaceSubrange(range.lowerBound * maskVoxels.count ..< range.upperBound * maskVoxels.count, with: group.floats)
        }
        return EncodingResult(responses: ["responses": try Tensor(shape: [stimulus.count, maskVoxels.count], floats: responses)],
                              metadata: metadata, stimulusNames: stimulus.names, placement: placement)
    }

    /// The group values [N, mask voxels] for ResNet features [N, F]: steps 1–6 after the network.
    public func predict(features: Tensor) throws -> Tensor {
        guard features.rank == 2 else {
            throw BERGError.shapeMismatch(what: "features [images, features]", expected: [-1, projections[0].readout.featureCount], actual: features.shape)
        }
        let images = features.shape[0], voxels = maskVoxels.count
        var total = [Double](repeating: 0, count: images * voxels)
        for projection in projections {
            let smoothed = try projection.maskValues(features: features)
            for n in 0..<images {
                let z = Img2fmriGroupMNI.zscore(smoothed[n * voxels ..< (n + 1) * voxels].map(Double.init))
                for v in 0..<voxels { total[n * voxels + v] += z[v] }
            }
        }
        var out = [Float](repeating: 0, count: images * voxels)
        for n in 0..<images {
            let z = Img2fmriGroupMNI.zscore(Array(total[n * voxels ..< (n + 1) * voxels]))
            for v in 0..<voxels { out[n * voxels + v] = Float(z[v]) }
        }
        return try Tensor(shape: [images, voxels], floats: out)
    }

    /// One subject's warped volume on the MNI grid (steps 2–4, before smoothing) for its Ridge
    /// outputs `outputs` of one image.
    public func warpedVolume(subjectIndex: Int, outputs: [Float]) throws -> [Float] {
        try projections[subjectIndex].warpedVolume(outputs: outputs)
    }

    /// SciPy's `stats.zscore` (population standard deviation).
    static func zscore(_ x: [Double]) -> [Double] {
        let mean = x.reduce(0, +) / Double(x.count)
        let sd = (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)).squareRoot()
        return x.map { ($0 - mean) / sd }
    }
}

/// The manifest's `encoder.settings.mni`: where img2fmri's group-level files sit in the wheel;
/// `{subject}` and `{roi}` are filled in.
public struct Img2fmriMNISettings: Decodable, Sendable, Equatable {
    /// The subjects averaged.
    public var subjects: [Int]
    /// Each subject's T1 image (only its header is read: the 1 mm grid of AFNI's resample).
    public var t1Member: String
    /// FLIRT's T1 → robustfov-cropped T1 matrix (applywarp's `--premat`).
    public var prematMember: String
    /// FNIRT's coefficient field (applywarp's `--warp`).
    public var warpMember: String
    /// The MNI image applywarp writes onto (`--ref`; only its header is read).
    public var referenceMember: String
    /// Each ROI's group mask in MNI space.
    public var groupMaskMember: String

    func validate() throws {
        guard !subjects.isEmpty else { throw SettingsProblem("mni.subjects", "expected the subjects to average") }
        for (key, template) in [("t1_member", t1Member), ("premat_member", prematMember), ("warp_member", warpMember),
                                ("reference_member", referenceMember), ("group_mask_member", groupMaskMember)]
        where template.isEmpty {
            throw SettingsProblem("mni.\(key)", "expected a path template")
        }
    }

    func member(_ template: String, subject: Int = 0, roi: String = "") -> String {
        template.replacingOccurrences(of: "{subject}", with: String(subject)).replacingOccurrences(of: "{roi}", with: roi)
    }
}

/// One subject's steps 2–5 as a sparse matrix: row v (a mask voxel) holds the weight of each Ridge
/// output in the smoothed MNI value there.
struct Img2fmriSubjectProjection: Sendable {
    let subject: Subject
    let readout: Img2fmriReadout
    let route: Img2fmriSubjectRoute
    /// Per MNI voxel the smoothing reads, the subject voxel it takes (AFNI then FSL, nearest
    /// neighbour), or −1.
    let toMNI: VolumeResampler
    /// Per subject voxel (C order): the outputs' weights in its running nanmean (empty for
    /// voxels no output names).
    let voxelTerms: [[(output: Int, weight: Double)]]
    let rowStarts: [Int]
    let columns: [Int32]
    let weights: [Float]

    /// `maskTaps`: per mask voxel, the smoothing's (MNI voxel, weight) taps.
    init(subject: Subject, readout: Img2fmriReadout, route: Img2fmriSubjectRoute, toMNI: VolumeResampler,
         maskTaps: [[(index: Int, weight: Double)]]) throws {
        let subjectGrid = route.subjectGrid
        guard let ijk = readout.metadata.tensor("voxel_ijk")?.int64s else {
            throw BERGError.unexpectedContent(path: "img2fmri readout", message: "the readout places no voxels")
        }
        // img2fmri's running nanmean: outputs come ROI by ROI, LH then RH, one mask at a time, and
        // each new value is averaged with what the voxel holds so far.
        var terms = [[(output: Int, weight: Double)]](repeating: [], count: subjectGrid.voxelCount)
        for output in 0..<readout.voxelCount {
            let cell = subjectGrid.flatIndex(Int(ijk[3 * output]), Int(ijk[3 * output + 1]), Int(ijk[3 * output + 2]))
            if terms[cell].isEmpty {
                terms[cell] = [(output, 1)]
            } else {
                terms[cell] = terms[cell].map { ($0.output, $0.weight / 2) } + [(output, 0.5)]
            }
        }
        var rowStarts = [0], columns: [Int32] = [], weights: [Float] = []
        var row = [Double](repeating: 0, count: readout.voxelCount)
        var touched: [Int] = []
        for taps in maskTaps {
            for tap in taps {
                let cell = Int(toMNI.sources[tap.index])
                guard cell >= 0 else { continue }
                for part in terms[cell] {
                    if row[part.output] == 0 { touched.append(part.output) }
                    row[part.output] += tap.weight * part.weight
                }
            }
            touched.sort()
            for output in touched {
                columns.append(Int32(output))
                weights.append(Float(row[output]))
                row[output] = 0
            }
            touched.removeAll(keepingCapacity: true)
            rowStarts.append(columns.count)
        }
        self.subject = subject
        self.readout = readout
        self.route = route
        self.toMNI = toMNI
        self.voxelTerms = terms
        self.rowStarts = rowStarts
        self.columns = columns
        self.weights = weights
    }

    /// Smoothed MNI values at the mask's voxels [N × mask voxels] for features [N, F].
    func maskValues(features: Tensor) throws -> [Float] {
        let outputs = try readout.predict(features).floats
        let images = features.shape[0], voxels = rowStarts.count - 1, width = readout.voxelCount
        // Outputs by voxel, images contiguous, so that each matrix entry scales one run.
        var byOutput = [Float](repeating: 0, count: width * images)
        for n in 0..<images { for o in 0..<width { byOutput[o * images + n] = outputs[n * width + o] } }
        var out = [Float](repeating: 0, count: images * voxels)
        var sum = [Float](repeating: 0, count: images)
        byOutput.withUnsafeBufferPointer { x in
            for v in 0..<voxels {
                for n in 0..<images { sum[n] = 0 }
                for e in rowStarts[v] ..< rowStarts[v + 1] {
                    let w = weights[e], base = Int(columns[e]) * images
                    for n in 0..<images { sum[n] += w * x[base + n] }
                }
                for n in 0..<images { out[n * voxels + v] = sum[n] }
            }
        }
        return out
    }

    /// Steps 2–4 for one image's outputs: the subject's values on the MNI grid, 0 elsewhere.
    func warpedVolume(outputs: [Float]) throws -> [Float] {
        guard outputs.count == readout.voxelCount else {
            throw BERGError.shapeMismatch(what: "subject \(subject) outputs", expected: [readout.voxelCount], actual: [outputs.count])
        }
        var subjectVolume = [Float](repeating: 0, count: route.subjectGrid.voxelCount)
        for (cell, parts) in voxelTerms.enumerated() where !parts.isEmpty {
            subjectVolume[cell] = Float(parts.reduce(0.0) { $0 + $1.weight * Double(outputs[$1.output]) })
        }
        return try route.resampler(voxels: nil, threads: ComputeThreads.count).apply(subjectVolume)
    }
}

/// One subject's steps 3–4: its 2 mm grid → AFNI's resample onto its T1 grid → FSL's applywarp
/// (premat, FNIRT field) onto the MNI reference.
struct Img2fmriSubjectRoute: Sendable {
    let subjectGrid: VolumeGrid
    let t1: VolumeGrid
    let premat: FLIRTMatrix
    let warp: FNIRTCoefficientField
    let reference: VolumeGrid

    /// For each MNI voxel (or only `voxels`), the subject voxel it takes.
    func resampler(voxels: [Int]?, threads: Int) throws -> VolumeResampler {
        try VolumeResampler.fnirtNearest(input: t1, reference: reference, premat: premat, warp: warp, threads: threads, voxels: voxels)
            .after(AFNINearest(input: subjectGrid, master: t1))
    }
}
