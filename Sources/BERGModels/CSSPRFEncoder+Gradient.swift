import BERGCompute
import BERGCore
import BERGRegistry
import Foundation

extension CSSPRFEncoder: DifferentiableEncodingModel {
    public var responseCount: Int { voxels.count }

    /// Any size: the contrast image is averaged to `contrast_grid` cells whatever the side.
    public var inputSide: Int? { nil }

    /// The largest centred square, / 255 (no resize).
    public func inputImages(_ stimulus: Stimulus) throws -> Tensor {
        try ImageResize.toFloat(Preprocessing(squareCrop: true).resized(stimulus))
    }

    public func responseTarget(voxels selection: [Int]?) throws -> any ResponseTarget {
        let selected = try checkedVoxels(selection)
        let cells = settings.contrastGrid * settings.contrastGrid
        var rows = [Float]()
        rows.reserveCapacity(selected.count * cells)
        for v in selected { rows.append(contentsOf: weights[(v * cells)..<((v + 1) * cells)]) }
        return CSSPRFResponseTarget(settings: settings, weights: rows, gains: selected.map { Float(voxels[$0].gain) },
                                    exponents: selected.map { Float(voxels[$0].exponent) })
    }
}

/// The mean CSS response gain · max(Σ pRF · contrast, 0)^n over some voxels, as a function of
/// the square image in [0, 1]. Per pixel, luminance L = 0.299 r + 0.587 g + 0.114 b and
/// contrast min(1, |L − grey| / grey), zero within the grey tolerance; the contrast is averaged
/// over cells. Its gradient is zero where the contrast is clipped or inside the tolerance.
struct CSSPRFResponseTarget: ResponseTarget {
    let settings: CSSPRFEncoder.Settings
    /// The selected voxels' pRF weights [V, grid²].
    let weights: [Float]
    let gains: [Float]
    let exponents: [Float]
    var inputSide: Int? { nil }
    var preferredBatch: Int { 8 }
    static let luminance: [Float] = [0.299, 0.587, 0.114]

    /// Per image: the target, and ∂target/∂image when `gradients` is set.
    private func evaluate(_ images: Tensor, gradients: Bool) throws -> (values: [Float], gradients: [Float]) {
        try checkInput(images)
        let (n, side) = (images.shape[0], images.shape[2])
        let plane = side * side, g = settings.contrastGrid, cells = g * g
        let grey = Float(settings.greyLevel), tolerance = Float(settings.greyTolerance)
        let x = images.floats
        let voxelCount = gains.count
        var values = [Float](repeating: 0, count: n)
        var dx = [Float](repeating: 0, count: gradients ? x.count : 0)
        for b in 0..<n {
            let base = b * 3 * plane
            var luminance = [Float](repeating: 0, count: plane)
            var pixelContrast = [Float](repeating: 0, count: plane)
            for i in 0..<plane {
                let l = CSSPRFResponseTarget.luminance
                luminance[i] = l[0] * x[base + i] + l[1] * x[base + plane + i] + l[2] * x[base + 2 * plane + i]
                let deviation = abs(luminance[i] - grey)
                pixelContrast[i] = deviation <= tolerance ? 0 : min(1, deviation / grey)
            }
            let contrast = CSSPRFEncoder.cellAverages(pixelContrast, side: side, grid: g)
            var driveGradient = [Float](repeating: 0, count: voxelCount)   // ∂target/∂drive_v
            for v in 0..<voxelCount {
                var drive: Float = 0
                for c in 0..<cells { drive += weights[v * cells + c] * contrast[c] }
                let positive = max(drive, 0)
                values[b] += gains[v] * pow(positive, exponents[v]) / Float(voxelCount)
                if positive > 0 { driveGradient[v] = gains[v] * exponents[v] * pow(positive, exponents[v] - 1) / Float(voxelCount) }
            }
            guard gradients else { continue }
            var contrastGradient = [Float](repeating: 0, count: cells)
            for v in 0..<voxelCount where driveGradient[v] != 0 {
                for c in 0..<cells { contrastGradient[c] += driveGradient[v] * weights[v * cells + c] }
            }
            // Back through the cell means, then the per-pixel contrast, then the luminance.
            var pixelGradient = [Float](repeating: 0, count: plane)
            for row in 0..<g {
                let rows = CSSPRFEncoder.cellSpan(row, side: side, grid: g)
                for column in 0..<g {
                    let columns = CSSPRFEncoder.cellSpan(column, side: side, grid: g)
                    let share = contrastGradient[row * g + column] / Float(rows.count * columns.count)
                    for r in rows { for c in columns { pixelGradient[r * side + c] += share } }
                }
            }
            for i in 0..<plane {
                let signed = luminance[i] - grey, deviation = abs(signed)
                guard deviation > tolerance, deviation < grey else { continue }
                let dl = pixelGradient[i] * (signed > 0 ? 1 : -1) / grey
                for c in 0..<3 { dx[base + c * plane + i] = dl * CSSPRFResponseTarget.luminance[c] }
            }
        }
        return (values, dx)
    }

    func values(_ images: Tensor) throws -> [Float] { try evaluate(images, gradients: false).values }

    func valuesAndGradients(_ images: Tensor) throws -> (values: [Float], gradients: Tensor) {
        let (values, dx) = try evaluate(images, gradients: true)
        return (values, try Tensor(shape: images.shape, floats: dx))
    }
}
