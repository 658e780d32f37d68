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

    /// Asks `source` for every output voxel (or only for `voxels`, C-order indices; the others
    /// get none), on `threads` threads.
    public init(output: VolumeGrid, input: VolumeGrid, threads: Int = 1, voxels: [Int]? = nil,
                source: @Sendable (_ i: Int, _ j: Int, _ k: Int) -> Int?) {
        self.output = output
        self.input = input
        let (ny, nz) = (output.shape[1], output.shape[2])
        let count = voxels?.count ?? output.voxelCount
        var sources = [Int32](repeating: -1, count: output.voxelCount)
        sources.withUnsafeMutableBufferPointer { buffer in
            let slots = UncheckedSendable(buffer)
            let workers = max(1, min(threads, count / 4096 + 1))
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for n in stride(from: worker, to: count, by: workers) {
                    let voxel = voxels?[n] ?? n
                    if let s = source(voxel / (ny * nz), voxel / nz % ny, voxel % nz) { slots.value[voxel] = Int32(s) }
                }
            }
        }
        self.sources = sources
    }

    init(output: VolumeGrid, input: VolumeGrid, sources: [Int32]) {
        self.output = output
        self.input = input
        self.sources = sources
    }

    /// AFNI `3dresample -master` in its default nearest-neighbour mode (see `AFNINearest`).
    public static func afniNearest(input: VolumeGrid, master: VolumeGrid, threads: Int = 1) throws -> VolumeResampler {
        let lookup = try AFNINearest(input: input, master: master)
        return VolumeResampler(output: master, input: input, threads: threads) { i, j, k in
            lookup.inputVoxel(ofMasterVoxel: i, j, k)
        }
    }

    /// FSL `applywarp --interp=nn --premat=PREMAT --warp=COEFF --ref=REF`: each reference voxel
    /// goes through the FNIRT field to the source's FSL coordinates, back through the inverse of
    /// the FLIRT premat (input → source) to the input's FSL coordinates, and to the input
    /// voxel ⌊c + 0.5⌋, inside when 0 ≤ c ≤ n − 1 (FSL's bounds test, and SciPy's for fslpy).
    /// Only `voxels` of the reference (C-order indices) when given.
    public static func fnirtNearest(input: VolumeGrid, reference: VolumeGrid, premat: FLIRTMatrix,
                                    warp: FNIRTCoefficientField, threads: Int = 1, voxels: [Int]? = nil) throws -> VolumeResampler {
        let sourceToInputVoxel = try input.voxelToFSL.inverse().after(premat.transform.inverse())
        return VolumeResampler(output: reference, input: input, threads: threads, voxels: voxels) { i, j, k in
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

    /// `self` after AFNI's resample from `inner.input` onto this one's input grid, asking `inner`
    /// only for the voxels this one reads (a 1 mm T1 grid has 11.5 million).
    public func after(_ inner: AFNINearest) throws -> VolumeResampler {
        guard inner.master == input else {
            throw BERGError.invalidInput("resamplers do not chain: AFNI's resample writes a \(inner.master.shape) grid, this one reads a \(input.shape) grid")
        }
        let (ny, nz) = (input.shape[1], input.shape[2])
        let composed = sources.map { s -> Int32 in
            guard s >= 0 else { return -1 }
            let t = Int(s)
            return Int32(inner.inputVoxel(ofMasterVoxel: t / (ny * nz), t / nz % ny, t % nz) ?? -1)
        }
        return VolumeResampler(output: output, input: inner.input, sources: composed)
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

/// AFNI `3dresample -master` in its default nearest-neighbour mode, voxel by voxel.
///
/// FACTS (AFNI's `afni_slice.c`, read): the master voxel's centre is taken into input voxel
/// coordinates f (through both grids' world matrices; AFNI reads the sform before the qform)
/// and the input voxel is ⌊f + 0.5⌋ along each axis, so an exact tie goes to the higher index.
/// It is inside when 0 ≤ f + 0.5 < n − 0.0001; outside gives 0. img2fmri's 2 mm grids lie an
/// even number of mm from their 1 mm T1 grids, so every other T1 voxel is such a tie along x
/// and y (and z for two of the three subjects). AFNI reads a float64 NIfTI as float32 and
/// replaces NaN and ±Inf with 0 (`thd_floatscan`, done for every float64 file since 2014).
public struct AFNINearest: Sendable {
    public let input: VolumeGrid
    public let master: VolumeGrid
    let masterToInput: Affine3D
    let sizes: SIMD3<Double>

    public init(input: VolumeGrid, master: VolumeGrid) throws {
        self.input = input
        self.master = master
        masterToInput = try input.voxelToWorld.inverse().after(master.voxelToWorld)
        sizes = SIMD3(Double(input.shape[0]), Double(input.shape[1]), Double(input.shape[2]))
    }

    /// The input voxel (C-order index) that master voxel (i, j, k) takes, or nil.
    @inline(__always)
    public func inputVoxel(ofMasterVoxel i: Int, _ j: Int, _ k: Int) -> Int? {
        let shifted = masterToInput.apply(SIMD3(Double(i), Double(j), Double(k))) + 0.5
        guard shifted.x >= 0, shifted.y >= 0, shifted.z >= 0,
              shifted.x < sizes.x - 0.0001, shifted.y < sizes.y - 0.0001, shifted.z < sizes.z - 0.0001 else { return nil }
        return input.flatIndex(Int(shifted.x), Int(shifted.y), Int(shifted.z))
    }
}
