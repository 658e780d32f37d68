import BERGCore
import BERGFormats
import Foundation

/// FSL's `fslmaths -s SIGMA`: a Gaussian of σ mm, applied as three one-dimensional passes.
///
/// FACTS (FSL's `fslmaths.cc` and `newimagefns`, read): `-s` builds
/// `gaussian_kernel3D(σ, dx, dy, dz)` with a cutoff of 4σ, so each axis has the taps
/// exp(−(n·d)² / (2σ²)) for |n| ≤ ⌈4σ / d⌉ (σ = 1 mm on 2 mm voxels: 5 taps), and
/// `generic_convolve(…, separable: true, renormalise: true)` runs the x, then y, then z pass,
/// each dividing by the sum of the taps that fall inside the volume. Inside the volume that is
/// the normalised Gaussian; at its faces the kernel is cut and renormalised (no zero padding).
/// Between passes the values are float32.
public struct GaussianSmoothing: Sendable {
    public let sigma: Double
    public let grid: VolumeGrid
    /// Per axis, the taps for offsets −r...r.
    let kernels: [[Double]]

    public init(sigma: Double, grid: VolumeGrid) throws {
        guard sigma > 0, sigma.isFinite else {
            throw BERGError.invalidInput("the smoothing σ must be a positive number of mm, got \(sigma)")
        }
        self.sigma = sigma
        self.grid = grid
        kernels = [grid.voxelSize.x, grid.voxelSize.y, grid.voxelSize.z].map { size in
            // FSL computes the radius in float32.
            let radius = Int((Float(sigma) * 4 / Float(size)).rounded(.up))
            return (-radius...radius).map { n in exp(-Double(n * n) * size * size / (2 * sigma * sigma)) }
        }
    }

    /// The one-dimensional weights of the output at `position` along `axis`: (input position,
    /// weight), renormalised over the taps inside the volume.
    func axisWeights(_ axis: Int, at position: Int) -> [(Int, Double)] {
        let kernel = kernels[axis], radius = kernel.count / 2, size = grid.shape[axis]
        var taps: [(Int, Double)] = []
        var total = 0.0
        for (t, w) in kernel.enumerated() {
            let p = position + t - radius
            guard p >= 0, p < size else { continue }
            taps.append((p, w))
            total += w
        }
        return taps.map { ($0.0, $0.1 / total) }
    }

    /// The output at voxel (i, j, k) as a weighted sum of input voxels: (C-order index, weight).
    public func taps(_ i: Int, _ j: Int, _ k: Int) -> [(index: Int, weight: Double)] {
        let (wx, wy, wz) = (axisWeights(0, at: i), axisWeights(1, at: j), axisWeights(2, at: k))
        var result: [(index: Int, weight: Double)] = []
        result.reserveCapacity(wx.count * wy.count * wz.count)
        for (x, a) in wx { for (y, b) in wy { for (z, c) in wz { result.append((grid.flatIndex(x, y, z), a * b * c)) } } }
        return result
    }

    /// The whole volume (C order), pass by pass as FSL runs it.
    public func apply(_ values: [Float]) throws -> [Float] {
        guard values.count == grid.voxelCount else {
            throw BERGError.shapeMismatch(what: "volume to smooth", expected: grid.shape, actual: [values.count])
        }
        var current = values
        let strides = [grid.shape[1] * grid.shape[2], grid.shape[2], 1]
        for axis in 0..<3 {
            let weights = (0..<grid.shape[axis]).map { axisWeights(axis, at: $0) }
            var next = [Float](repeating: 0, count: current.count)
            for flat in 0..<current.count {
                let position = flat / strides[axis] % grid.shape[axis]
                let base = flat - position * strides[axis]
                var sum = 0.0
                for (p, w) in weights[position] { sum += w * Double(current[base + p * strides[axis]]) }
                next[flat] = Float(sum)
            }
            current = next
        }
        return current
    }
}
