import XCTest
import BERGCore
@testable import BERGCompute
import BERGFormats

/// The fwRF readout's backward pass on the small readout fixture (70 voxels, three maps):
/// its sums against the forward pass, its gradient against central differences.
final class FWRFReadoutGradientTests: XCTestCase {
    func fixture(_ name: String) throws -> Tensor {
        try NPYFile.read(FWRFFixtures.directory.appendingPathComponent("\(name).npy").path)
    }

    func testGradientMatchesFiniteDifferences() throws {
        let maps = try (0..<3).map { try fixture("readout_f\($0)") }
        let fields = try (0..<3).map { try fixture("readout_rf\($0)") }
        let full = try FWRFReadout(receptiveFields: fields, weights: try fixture("readout_w"),
                                   bias: try fixture("readout_b"), channelCounts: maps.map { $0.shape[1] })
        let voxels = [3, 0, 41, 69]
        let readout = try full.restricted(to: voxels)
        let (sums, gradients) = try readout.sumsAndGradients(maps)
        let y = try full(maps).floats
        for b in 0..<3 {
            XCTAssertEqual(sums[b], voxels.reduce(0) { $0 + y[b * 70 + $1] }, accuracy: 1e-4)
        }
        var generator = SeededGenerator(seed: 9)
        let directions = maps.map { m in m.floats.map { _ in Float(generator.nextGaussian()) } }
        let h: Float = 1e-3
        func total(_ sign: Float) throws -> Double {
            let moved = try zip(maps, directions).map { m, d in try Tensor(shape: m.shape, floats: zip(m.floats, d).map { $0 + sign * h * $1 }) }
            return try readout.sumsAndGradients(moved).sums.reduce(0) { $0 + Double($1) }
        }
        let numeric = (try total(1) - total(-1)) / Double(2 * h)
        var analytic = 0.0
        for (g, d) in zip(gradients, directions) { for (a, b) in zip(g.floats, d) { analytic += Double(a) * Double(b) } }
        XCTAssertEqual(numeric, analytic, accuracy: 2e-3 * max(1, abs(analytic)))
    }

    /// The fused kernels of the backward pass give the forward's bits: nl(x) as `apply` and
    /// Σ nl(x)·w as `weightedSum` (so the gradient target equals the encoder), and nl′(x) as
    /// the scalar `slope`, at lengths around the 16-wide partial sums.
    func testFusedKernelsGiveTheForwardsBits() {
        var generator = SeededGenerator(seed: 4)
        for count in [1, 15, 16, 17, 100, 1000] {
            let x = (0..<count).map { i in i == 0 ? 0 : Float(generator.nextGaussian()) * 3 }
            let w = (0..<count).map { _ in Float(generator.nextGaussian()) }
            var value = [Float](repeating: 0, count: count), slope = value, applied = value, weighted = value
            LogActivation.valuesAndSlopes(x, value: &value, slope: &slope, count: count)
            LogActivation.apply(x, &applied, count: count)
            XCTAssertEqual(value, applied, "count \(count)")
            XCTAssertEqual(slope, x.map(LogActivation.slope), "count \(count)")
            XCTAssertEqual(slope[0], 0, "nl′(0) = 0 as PyTorch")
            let sum = LogActivation.weightedSumAndSlopes(x, w, out: &weighted, count: count)
            XCTAssertEqual(sum.bitPattern, LogActivation.weightedSum(x, w, count: count).bitPattern, "count \(count)")
            XCTAssertEqual(weighted, zip(w, slope).map { $0 * $1 }, "count \(count)")
        }
    }
}
