import BERGAnalysis
import BERGCore
import BERGFormats
import Foundation

/// The features `berg fit` reads: layers of a `berg features` file (flattened per stimulus,
/// concatenated in the order given) or a `.npy` array [N, ...].
struct FitFeatures {
    var rows: PatternMatrix
    /// [N, ...] of each layer, or of the array.
    var shapes: [[Int]]
    /// How the activations were made, when they came from `berg features`.
    var provenance: ActivationsFile.Provenance?
    var layers: [String]

    static func load(_ path: String, layers: [String]) throws -> FitFeatures {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard FileManager.default.fileExists(atPath: path) else {
            throw BERGError.fileNotFound(path: path, hint: "--features takes an .h5 file from `berg features` or a .npy array [N, ...]")
        }
        if ext == "npy" {
            guard layers.isEmpty else {
                throw BERGError.invalidArgument(name: "layer", value: layers.joined(separator: ", "),
                                                message: "--layer picks datasets of an .h5 file; \(path) is one .npy array")
            }
            let tensor = try NPYFile.read(path)
            return FitFeatures(rows: try PatternMatrix(tensor, name: path), shapes: [tensor.shape], provenance: nil, layers: [])
        }
        guard ["h5", "hdf5"].contains(ext) else {
            throw BERGError.invalidArgument(name: "features", value: path, message: "expected an .h5 file from `berg features` or a .npy array")
        }
        let file = try HDF5File(path: path, mode: .read)
        let available = try file.children().filter { try file.kind(of: $0) == .dataset && $0 != "stimulus_names" }
        guard !layers.isEmpty else {
            throw BERGError.invalidArgument(name: "layer", value: "",
                                            message: "name the layer to fit with --layer; \(path) holds: \(available.joined(separator: ", "))")
        }
        var tensors: [Tensor] = []
        for layer in layers {
            guard available.contains(layer) else {
                throw BERGError.invalidArgument(name: "layer", value: layer, message: "\(path) has no such layer; it holds: \(available.joined(separator: ", "))")
            }
            tensors.append(try file.read(layer))
        }
        let n = tensors[0].shape.first ?? 0
        for (layer, t) in zip(layers, tensors) where t.shape.first != n {
            throw BERGError.invalidArgument(name: "layer", value: layer, message: "has shape \(t.shape) but \(layers[0]) has \(tensors[0].shape): the stimuli differ")
        }
        let joined: Tensor
        if tensors.count == 1 {
            joined = tensors[0]
        } else {
            let flat = try tensors.map { try $0.asFloat32.reshaped([n, $0.count / max(n, 1)]) }
            joined = try concatenateColumns(flat)
        }
        return FitFeatures(rows: try PatternMatrix(joined, name: "\(path) \(layers.joined(separator: " + "))"),
                           shapes: tensors.map(\.shape), provenance: try ActivationsFile.provenance(of: file), layers: layers)
    }

    static func concatenateColumns(_ parts: [Tensor]) throws -> Tensor {
        let n = parts[0].shape[0]
        let widths = parts.map { $0.shape[1] }
        let total = widths.reduce(0, +)
        var out = [Float](repeating: 0, count: n * total)
        var offset = 0
        for (part, width) in zip(parts, widths) {
            let v = part.floats
            for i in 0..<n { for j in 0..<width { out[i * total + offset + j] = v[i * width + j] } }
            offset += width
        }
        return try Tensor(shape: [n, total], floats: out)
    }
}

/// The responses `berg fit` reads: `Y.npy`, `Y.h5:DATASET`, or a 4-D NIfTI with a mask.
struct FitResponses {
    var rows: ResponseRows
    /// The mask grid's shape and affine, and the flat C-order positions of its voxels, when a
    /// mask gives the voxels a place.
    var grid: (shape: [Int], affine: [[Double]], positions: [Int])?
    /// A name for the data (the file's stem), for the default model id.
    var name: String

    /// Splits `Y.h5:DATASET` into the file and the dataset; nil for other paths.
    static func hdf5Parts(_ spec: String) -> (path: String, dataset: String)? {
        guard !FileManager.default.fileExists(atPath: spec), let colon = spec.lastIndex(of: ":") else { return nil }
        let path = String(spec[..<colon]), dataset = String(spec[spec.index(after: colon)...])
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        return ["h5", "hdf5"].contains(ext) && !dataset.isEmpty ? (path, dataset) : nil
    }

    static func isNIfTI(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz")
    }

    static func load(_ spec: String, mask: String?) throws -> FitResponses {
        var tensor: Tensor
        var grid: (shape: [Int], affine: [[Double]], positions: [Int])? = nil
        let path: String
        if let (file, dataset) = hdf5Parts(spec) {
            path = file
            guard FileManager.default.fileExists(atPath: file) else { throw BERGError.fileNotFound(path: file, hint: "--responses Y.h5:DATASET") }
            let h5 = try HDF5File(path: file, mode: .read)
            guard try h5.exists(dataset), try h5.kind(of: dataset) == .dataset else {
                throw BERGError.invalidArgument(name: "responses", value: spec, message: "\(file) has no dataset '\(dataset)'")
            }
            tensor = try h5.read(dataset)
        } else {
            path = spec
            guard FileManager.default.fileExists(atPath: spec) else {
                throw BERGError.fileNotFound(path: spec, hint: "--responses takes Y.npy [N, V], Y.h5:DATASET or a 4-D Y.nii.gz with --mask")
            }
            if isNIfTI(spec) {
                guard let mask else {
                    throw BERGError.invalidArgument(name: "mask", value: "", message: "a NIfTI response volume needs --mask M.nii.gz to say which voxels to fit")
                }
                let image = try NIfTIFile.read(spec)
                let maskImage = try NIfTIFile.read(mask)
                let maskValues = try maskImage.data()
                guard image.shape.count == 4 else {
                    throw BERGError.invalidArgument(name: "responses", value: spec,
                                                    message: "a NIfTI response volume must be 4-D (x, y, z, stimuli); this one has shape \(image.shape)")
                }
                var maskShape = maskValues.shape
                while maskShape.count > 3, maskShape.last == 1 { maskShape.removeLast() }
                guard maskShape == Array(image.shape.prefix(3)) else {
                    throw BERGError.invalidArgument(name: "mask", value: mask,
                                                    message: "the mask's grid \(maskValues.shape) differs from the responses' \(Array(image.shape.prefix(3))) (responses \(image.shape))")
                }
                tensor = try image.maskedSeries(mask: maskValues, maskPath: mask)
                let values = maskValues.doubles
                grid = (maskShape, maskImage.affine, values.indices.filter { values[$0] > 0 })
            } else if URL(fileURLWithPath: spec).pathExtension.lowercased() == "npy" {
                tensor = try NPYFile.read(spec)
            } else {
                throw BERGError.invalidArgument(name: "responses", value: spec, message: "expected Y.npy, Y.h5:DATASET or Y.nii.gz with --mask")
            }
        }
        if tensor.rank == 1 { tensor = try tensor.reshaped([tensor.count, 1]) }
        guard tensor.rank == 2 else {
            throw BERGError.invalidArgument(name: "responses", value: spec, message: "responses must be [N, V] (stimuli × voxels); got shape \(tensor.shape)")
        }
        if grid == nil, let mask {
            // A mask for responses given as an array: it places the voxels on a grid.
            let maskImage = try NIfTIFile.read(mask)
            let values = try maskImage.data().doubles
            let positions = values.indices.filter { values[$0] > 0 }
            guard positions.count == tensor.shape[1] else {
                throw BERGError.invalidArgument(name: "mask", value: mask,
                                                message: "the mask selects \(positions.count) voxels (shape \(maskImage.shape)) but the responses have \(tensor.shape[1]) (shape \(tensor.shape))")
            }
            var shape = maskImage.shape
            while shape.count > 3, shape.last == 1 { shape.removeLast() }
            grid = (shape, maskImage.affine, positions)
        }
        var stem = URL(fileURLWithPath: path).lastPathComponent
        for suffix in [".gz", ".nii", ".npy", ".h5", ".hdf5"] where stem.lowercased().hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return FitResponses(rows: try ResponseRows(tensor, name: spec), grid: grid, name: stem)
    }

    /// The voxels (columns) that hold a NaN or an infinity.
    func nonFiniteVoxels() -> [Int] {
        var bad = Set<Int>()
        for i in 0..<rows.rows { for j in 0..<rows.columns where !rows.values[i * rows.columns + j].isFinite { bad.insert(j) } }
        return bad.sorted()
    }
}
