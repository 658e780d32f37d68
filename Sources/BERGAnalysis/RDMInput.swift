import BERGCore
import BERGFormats
import Foundation

/// The stimulus patterns an RDM is computed from, opened from a file; each named pattern set
/// is read when it is asked for, so a file of large layers is never held whole in memory.
///
/// - `.npy` [N, P...]: one pattern set, named after the file (`v1.npy` → `v1`).
/// - `.h5` from `berg encode`: the root dataset `responses` [N, V] (named `responses`), or one
///   set per dataset of the group `responses/` (`lh`, `rh`, ...).
/// - `.h5` from `berg features`: one set per float dataset at the root (the layer, named as
///   PyTorch names the module, such as `features.12`), [N, ...] flattened per stimulus.
/// - a 4-D NIfTI (`.nii`, `.nii.gz`) with a mask: the voxels where the mask is above 0, one
///   stimulus per volume (the last axis), named after the file.
///
/// `stimulus_names` come from the `.h5` file when it has them.
public struct RDMInput: Sendable {
    public let path: String
    /// The pattern sets to use, in order.
    public let names: [String]
    public let stimulusNames: [String]
    let load: @Sendable (String) throws -> Tensor

    /// Opens `path`; `layers` picks pattern sets of an `.h5` file by name (all when empty),
    /// `mask` is required for NIfTI input and refused for the others.
    public init(path: String, layers: [String] = [], mask: String? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw BERGError.fileNotFound(path: path, hint: nil) }
        self.path = path
        let lowered = path.lowercased()
        let stem = RDMInput.stem(of: path)
        let isNIfTI = lowered.hasSuffix(".nii") || lowered.hasSuffix(".nii.gz")
        let isHDF5 = lowered.hasSuffix(".h5") || lowered.hasSuffix(".hdf5")
        if !isHDF5 && !layers.isEmpty {
            throw BERGError.invalidArgument(name: "layers", value: layers.joined(separator: ", "), message: "only an .h5 file has layers or outputs to pick, and \(path) holds one array")
        }
        if isNIfTI {
            guard let mask else {
                throw BERGError.invalidArgument(name: "input", value: path, message: "a NIfTI input needs a mask, which says which voxels make the patterns")
            }
            names = [stem]
            stimulusNames = []
            load = { _ in
                let image = try NIfTIFile.read(path)
                return try image.maskedSeries(mask: try NIfTIFile.read(mask).data(), maskPath: mask)
            }
            return
        }
        if mask != nil {
            throw BERGError.invalidArgument(name: "mask", value: mask ?? "", message: "a mask applies to a 4-D NIfTI input (.nii or .nii.gz), not to \(path)")
        }
        if lowered.hasSuffix(".npy") {
            names = [stem]
            stimulusNames = []
            load = { _ in try NPYFile.read(path) }
            return
        }
        guard isHDF5 else {
            throw BERGError.invalidInput("Cannot tell the format of \(path): give an .npy array [stimuli, units], an .h5 file of responses or DNN features, or a 4-D .nii/.nii.gz volume with a mask")
        }
        let file = try HDF5File(path: path, mode: .read)
        let (available, datasetPath) = try RDMInput.patternSets(in: file)
        var chosen: [String] = []
        for layer in layers where !chosen.contains(layer) {
            guard available.contains(layer) else {
                throw BERGError.invalidParameter(model: path, name: "layer", value: layer, valid: available)
            }
            chosen.append(layer)
        }
        names = chosen.isEmpty ? available : chosen
        stimulusNames = try file.exists("stimulus_names") ? file.readStrings("stimulus_names") : []
        try file.close()
        load = { name in
            let file = try HDF5File(path: path, mode: .read)
            defer { try? file.close() }
            return try file.read(datasetPath(name))
        }
    }

    /// The patterns of one named set, [N, ...].
    public func patterns(_ name: String) throws -> Tensor {
        guard names.contains(name) else {
            throw BERGError.invalidParameter(model: path, name: "layer", value: name, valid: names)
        }
        let tensor = try load(name)
        guard let n = tensor.shape.first, n > 0 else {
            throw BERGError.invalidInput("\(name) in \(path) has shape \(tensor.shape); patterns need [stimuli, units...]")
        }
        guard stimulusNames.isEmpty || stimulusNames.count == n else {
            throw BERGError.invalidInput("\(name) in \(path) has \(n) stimuli but the file names \(stimulusNames.count)")
        }
        return tensor.rank == 1 ? try tensor.reshaped([n, 1]) : tensor
    }

    /// The pattern sets of an encode or features file, and where each one's dataset is.
    static func patternSets(in file: HDF5File) throws -> ([String], @Sendable (String) -> String) {
        if try file.exists("rdm_descriptors") || (try file.exists("dissimilarities")) {
            throw BERGError.invalidInput("\(file.path) holds RDMs, not patterns: it is for comparing RDMs")
        }
        if try file.exists("responses") {
            if try file.kind(of: "responses") == .dataset { return (["responses"], { _ in "responses" }) }
            let outputs = try file.children(of: "responses").filter { try file.kind(of: "responses/\($0)") == .dataset }
            guard !outputs.isEmpty else { throw BERGError.unexpectedContent(path: file.path, message: "the group 'responses' holds no datasets") }
            return (outputs, { "responses/\($0)" })
        }
        var layers: [String] = []
        for name in try file.children() where name != "stimulus_names" {
            guard try file.kind(of: name) == .dataset else { continue }
            let info = try file.info(name)
            if [.float32, .float64].contains(info.dtype), !info.shape.isEmpty { layers.append(name) }
        }
        guard !layers.isEmpty else {
            throw BERGError.unexpectedContent(path: file.path, message: "no patterns found: expected a 'responses' dataset or group (an encode file) or float layer datasets at the root (a features file)")
        }
        return (layers, { $0 })
    }

    /// The file name without its extension (`.nii.gz` counts as one).
    static func stem(of path: String) -> String {
        var name = URL(fileURLWithPath: path).lastPathComponent
        for suffix in [".nii.gz", ".npy", ".nii", ".hdf5", ".h5"] where name.lowercased().hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
            break
        }
        return name
    }
}
