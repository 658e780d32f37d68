import BERGCore
import BERGFormats
import Foundation

/// For each voxel of an output grid, the one input voxel whose value it takes
/// (nearest-neighbour resampling), or none: outside the input it gets 0.
public struct VolumeResampler: Sendable {
    public let output: VolumeGrid
    public let input: VolumeGrid
    /// Per output voxel (C order), the input voxel's C-order index, or −1.
    public let sources: [Int32]

    /// Asks `source` for every output voxel, a few slices at a time on `threads` threads.
    public init(output: VolumeGrid, input: VolumeGrid, threads: Int = 1,
                source: @Sendable (_ i: Int, _ j: Int, _ k: Int) -> Int?) {
        self.output = output
        self.input = input
        let (nx, ny, nz) = (output.shape[0], output.shape[1], output.shape[2])
        var sources = [Int32](repeating: -1, count: output.voxelCount)
        sources.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: min(max(1, threads), nx)) { worker in
                for i in stride(from: worker, to: nx, by: max(1, min(threads, nx))) {
                    for j in 0..<ny {
                        for k in 0..<nz {
                            if let s = source(i, j, k) { slots.value[(i * ny + j) * nz + k] = Int32(s) }
                        }
                    }
                }
            }
        }
        self.sources = sources
    }

    /// AFNI `3dresample -master` in its default nearest-neighbour mode.
    ///
    /// FACTS (AFNI's `afni_slice.c`, read): the master voxel's centre is taken into input voxel
    /// coordinates f (through both grids' world matrices; AFNI reads the sform before the
    /// qform) and the input voxel is ⌊f + 0.5⌋ along each axis, so an exact tie goes to the
    /// higher index. It is inside when 0 ≤ f + 0.5 < n − 0.0001; outside gives 0. img2fmri's
    /// 2 mm grids lie an even number of mm from their 1 mm T1 grids, so every other T1 voxel
    /// is such a tie along x and y (and z for two of the three subjects).
    public static func afniNearest(input: VolumeGrid, master: VolumeGrid, threads: Int = 1) throws -> VolumeResampler {
        let map = try input.voxelToWorld.inverse().after(master.voxelToWorld)
        let sizes = SIMD3<Double>(Double(input.shape[0]), Double(input.shape[1]), Double(input.shape[2]))
        return VolumeResampler(output: master, input: input, threads: threads) { i, j, k in
            Self.afniNearestVoxel(map.apply(SIMD3(Double(i), Double(j), Double(k))), sizes: sizes, grid: input)
        }
    }

    @inline(__always)
    static func afniNearestVoxel(_ f: SIMD3<Double>, sizes: SIMD3<Double>, grid: VolumeGrid) -> Int? {
        let shifted = f + 0.5
        guard shifted.x >= 0, shifted.y >= 0, shifted.z >= 0,
              shifted.x < sizes.x - 0.0001, shifted.y < sizes.y - 0.0001, shifted.z < sizes.z - 0.0001 else { return nil }
        return grid.flatIndex(Int(shifted.x), Int(shifted.y), Int(shifted.z))
    }

    /// FSL `applywarp --interp=nn --premat=PREMAT --warp=COEFF --ref=REF`: each reference voxel
    /// goes through the FNIRT field to the source's FSL coordinates, back through the inverse of
    /// the FLIRT premat (input → source) to the input's FSL coordinates, and to the input
    /// voxel ⌊c + 0.5⌋, inside when 0 ≤ c ≤ n − 1 (FSL's bounds test, and SciPy's for fslpy).
    public static func fnirtNearest(input: VolumeGrid, reference: VolumeGrid, premat: FLIRTMatrix,
                                    warp: FNIRTCoefficientField, threads: Int = 1) throws -> VolumeResampler {
        let sourceToInputVoxel = try input.voxelToFSL.inverse().after(premat.transform.inverse())
        return VolumeResampler(output: reference, input: input, threads: threads) { i, j, k in
            let source = warp.sourceCoordinates(ofReferenceVoxel: SIMD3(Double(i), Double(j), Double(k)), reference: reference)
            return fslNearestVoxel(sourceToInputVoxel.apply(source), grid: input)
        }
    }

    @inline(__always)
    static func fslNearestVoxel(_ c: SIMD3<Double>, grid: VolumeGrid) -> Int? {
        guard c.x >= 0, c.y >= 0, c.z >= 0, c.x <= Double(grid.shape[0] - 1), c.y <= Double(grid.shape[1] - 1),
              c.z <= Double(grid.shape[2] - 1) else { return nil }
        return grid.flatIndex(Int((c.x + 0.5).rounded(.down)), Int((c.y + 0.5).rounded(.down)), Int((c.z + 0.5).rounded(.down)))
    }

    /// `self` after `inner` (whose output grid is this one's input): one lookup for both steps.
    public func after(_ inner: VolumeResampler) throws -> VolumeResampler {
        guard inner.output == input else {
            throw BERGError.invalidInput("resamplers do not chain: the inner one writes a \(inner.output.shape) grid, this one reads a \(input.shape) grid")
        }
        let composed = sources.map { $0 < 0 ? -1 : inner.sources[Int($0)] }
        return VolumeResampler(output: output, input: inner.input, sources: composed)
    }

    init(output: VolumeGrid, input: VolumeGrid, sources: [Int32]) {
        self.output = output
        self.input = input
        self.sources = sources
    }

    /// The input volume (C order) resampled onto the output grid, `outside` where no input
    /// voxel lands.
    public func apply(_ values: [Float], outside: Float = 0) throws -> [Float] {
        guard values.count == input.voxelCount else {
            throw BERGError.shapeMismatch(what: "volume to resample", expected: input.shape, actual: [values.count])
        }
        return sources.map { $0 < 0 ? outside : values[Int($0)] }
    }
}
