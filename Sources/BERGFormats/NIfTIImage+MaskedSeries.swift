import BERGCore
import Foundation

extension NIfTIImage {
    /// The values of a 4-D image at the voxels where `mask > 0`, one row per volume (the last
    /// axis): float64 [T, V], with nibabel's scaling applied, voxels in NumPy's C order of
    /// nibabel's array, so that the result equals `img.get_fdata()[mask > 0].T`.
    ///
    /// Reads the stored values directly, so the whole scaled float64 volume is never built.
    /// A mask may carry trailing axes of length 1.
    public func maskedSeries(mask: Tensor, maskPath: String) throws -> Tensor {
        var maskShape = mask.shape
        while maskShape.count > 3, maskShape.last == 1 { maskShape.removeLast() }
        guard shape.count == 4 else {
            throw BERGError.invalidInput("A masked NIfTI input must be 4-D (x, y, z, stimuli); this one has shape \(shape)")
        }
        guard maskShape == Array(shape.prefix(3)) else {
            throw BERGError.shapeMismatch(what: "mask \(maskPath) for a volume of shape \(shape)",
                                          expected: Array(shape.prefix(3)), actual: mask.shape)
        }
        let volumes = shape[3]
        let maskValues = mask.doubles
        let selected = maskValues.indices.filter { maskValues[$0] > 0 }
        guard !selected.isEmpty else {
            throw BERGError.invalidInput("The mask \(maskPath) selects no voxels (none is above 0)")
        }
        let voxels = selected.count
        var out = [Double](repeating: 0, count: volumes * voxels)
        func gather<T>(_ values: [T], _ convert: (T) -> Double) {
            for (v, flat) in selected.enumerated() {
                let base = flat * volumes
                for t in 0..<volumes { out[t * voxels + v] = convert(values[base + t]) }
            }
        }
        switch raw.storage {
        case .float32(let a): gather(a) { Double($0) }
        case .float64(let a): gather(a) { $0 }
        case .int64(let a): gather(a) { Double($0) }
        case .int32(let a): gather(a) { Double($0) }
        case .int16(let a): gather(a) { Double($0) }
        case .int8(let a): gather(a) { Double($0) }
        case .uint8(let a): gather(a) { Double($0) }
        case .bool(let a): gather(a) { $0 ? 1 : 0 }
        }
        if let (slope, inter) = NIfTIFile.scaling(header) {
            for i in out.indices { out[i] = out[i] * slope + inter }
        }
        return try Tensor(shape: [volumes, voxels], doubles: out)
    }
}
