import BERGCore
import BERGModels
import BERGRegistry
import Foundation

extension BERG {
    /// img2fmri's group-level model: predictions of all the manifest's subjects warped to MNI
    /// (2 mm), smoothed with a Gaussian of `sigma` mm, z-scored and averaged, as img2fmri's
    /// `predict` makes them with FSL and AFNI (see `Img2fmriGroupMNI`). Its results are
    /// [images, mask voxels] with a volume placement (`writeResponseVolume` writes the
    /// 91 × 109 × 91 volume, 0 outside the mask).
    ///
    /// `rois`: img2fmri's `roi_list`, in order (nil: all the model's ROIs); `sigma` nil: the
    /// manifest's default (1 mm). Only models whose selection offers `space: mni` have it.
    ///
    /// ```swift
    /// let group = try berg.getGroupMNIModel("img2fmri-bold5000", sigma: 1.0)
    /// let result = try berg.encode(group, stimulus)
    /// try BERG.writeResponseVolume(result, to: "group.nii.gz")
    /// ```
    public func getGroupMNIModel(_ id: String, rois: [String]? = nil, centerCrop: Bool = false, sigma: Double? = nil,
                                 device: Device = .auto) throws -> any EncodingModel {
        let manifest = try registry.manifest(id)
        guard let space = manifest.parameters.selection.properties["space"], space.validStrings.contains("mni"),
              manifest.encoder.kind == "img2fmri" else {
            let spaces = manifest.parameters.selection.properties["space"]?.validStrings ?? ["subject"]
            throw BERGError.invalidParameter(model: id, name: "space", value: "mni", valid: spaces)
        }
        // The group does not depend on the subject; the store and the manifest still take one.
        guard let subject = manifest.parameters.subject.validStrings.compactMap(Int.init).first else {
            throw BERGError.invalidManifest(file: id, keyPath: "parameters.subject", message: "no subject numbers")
        }
        let selection: Selection = ["roi": "all", "center_crop": centerCrop ? "true" : "false", "space": "mni"]
        var resolved = try registry.resolve(manifest, subject: Subject(subject), selection: selection)
        let files = try artifacts.localFiles(for: manifest, subject: Subject(subject), selection: resolved)
        if let rois { resolved["roi"] = rois.joined(separator: ",") }
        let context = EncoderContext(manifest: manifest, subject: Subject(subject), selection: resolved,
                                     device: try device.resolved(), files: files)
        return try Img2fmriGroupMNI(context: context, rois: rois, sigma: sigma)
    }
}
