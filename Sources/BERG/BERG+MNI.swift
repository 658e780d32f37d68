import BERGCore
import BERGRegistry
import Foundation

extension BERG {
    /// img2fmri's group-level model: the predictions of all three BOLD5000 subjects warped to
    /// MNI (2 mm), smoothed with a Gaussian of `sigma` mm, z-scored and averaged, as img2fmri's
    /// `predict` makes them with FSL and AFNI. The same as `getEncodingModel` with the options
    /// `space=mni`, `sigma` and `roi_list`. Its results are [images, mask voxels] with a volume
    /// placement: `writeResponseVolume` writes the 91 × 109 × 91 volume, 0 outside the mask.
    ///
    /// `rois`: img2fmri's `roi_list`, in order (nil: all the model's ROIs).
    ///
    /// ```swift
    /// let group = try berg.getGroupMNIModel("img2fmri-bold5000", sigma: 1.0)
    /// let result = try berg.encode(group, stimulus)
    /// try BERG.writeResponseVolume(result, to: "group.nii.gz")
    /// ```
    public func getGroupMNIModel(_ id: String, rois: [String]? = nil, sigma: Double = 1.0, centerCrop: Bool = false,
                                 device: Device = .auto) throws -> any EncodingModel {
        var options: EncodingOptions = ["space": "mni", "sigma": .number(sigma), "center_crop": .bool(centerCrop)]
        if let rois { options["roi_list"] = .string(rois.joined(separator: ",")) }
        return try getEncodingModel(id, subject: try subject(nil, for: id, options: options), selection: ["roi": "all"],
                                    options: options, device: device)
    }

    /// The subject a run uses: `given`; the only one, for a model that declares one (such as
    /// a `berg fit` package, run as `berg encode ID --registry OUT/model --input …`); or, when
    /// the options make the subject irrelevant (img2fmri's `space=mni` averages every
    /// subject), the model's first subject. Otherwise, an error that lists the valid subjects.
    public func subject(_ given: Int?, for id: String, options: EncodingOptions) throws -> Subject {
        let manifest = try registry.manifest(id)
        let subjects = manifest.parameters.subject.validStrings
        if let given { return Subject(given) }
        if subjects.count == 1, let only = Int(subjects[0]) { return Subject(only) }
        if options["space"] == .string("mni"), let first = subjects.compactMap(Int.init).first { return Subject(first) }
        throw BERGError.invalidArgument(name: "subject", value: "", message: "\(id) needs a subject: one of \(subjects.joined(separator: ", "))")
    }
}
