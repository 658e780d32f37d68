import BERGCore
import Foundation

/// How the path integral of integrated gradients is approximated: captum's
/// `IntegratedGradients.attribute(..., method=)`, with its nodes (alphas) and weights (step sizes).
public enum IntegrationMethod: String, CaseIterable, Sendable {
    /// Gauss–Legendre quadrature on [0, 1] (captum's default).
    case gaussLegendre = "gausslegendre"
    /// The trapezoid rule as captum writes it: n evenly spaced alphas from 0 to 1, each
    /// weighted 1/n with the end points halved (so the weights sum to 1 − 1/n).
    case riemannTrapezoid = "riemann_trapezoid"

    /// The alphas and step sizes for n steps, as captum computes them.
    public func quadrature(steps n: Int) throws -> (alphas: [Double], weights: [Double]) {
        switch self {
        case .gaussLegendre:
            guard n >= 1 else { throw BERGError.invalidInput("gausslegendre needs at least 1 step, got \(n)") }
            let (nodes, weights) = IntegrationMethod.legendreNodes(n)
            return (nodes.map { 0.5 * (1 + $0) }, weights.map { 0.5 * $0 })
        case .riemannTrapezoid:
            guard n >= 2 else { throw BERGError.invalidInput("riemann_trapezoid needs at least 2 steps, got \(n)") }
            // torch.linspace(0, 1, n) in float32: the first half counts up from 0, the
            // second down from 1.
            let step = Float(1) / Float(n - 1)
            let alphas = (0..<n).map { i in Double(i < n / 2 ? step * Float(i) : 1 - step * Float(n - 1 - i)) }
            var weights = [Double](repeating: 1 / Double(n), count: n)
            weights[0] /= 2
            weights[n - 1] /= 2
            return (alphas, weights)
        }
    }

    /// Gauss–Legendre nodes on [−1, 1] in ascending order and their weights (NumPy's
    /// `leggauss`): Newton's method on P_n from Tricomi's initial guesses, to convergence.
    static func legendreNodes(_ n: Int) -> (nodes: [Double], weights: [Double]) {
        var nodes = [Double](repeating: 0, count: n), weights = [Double](repeating: 0, count: n)
        for i in 0..<(n + 1) / 2 {
            var x = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                // P_n(x) by the three-term recurrence, and P_n'(x).
                var p0 = 1.0, p1 = x
                for k in stride(from: 2, through: n, by: 1) {
                    let next = (Double(2 * k - 1) * x * p1 - Double(k - 1) * p0) / Double(k)
                    p0 = p1; p1 = next
                }
                derivative = Double(n) * (x * p1 - p0) / (x * x - 1)
                let dx = p1 / derivative
                x -= dx
                if abs(dx) < 1e-16 { break }
            }
            let w = 2 / ((1 - x * x) * derivative * derivative)
            nodes[i] = -x; nodes[n - 1 - i] = x
            weights[i] = w; weights[n - 1 - i] = w
        }
        // As NumPy does: the weights scaled to sum to 2 exactly.
        let total = weights.reduce(0, +)
        return (nodes, weights.map { $0 * 2 / total })
    }
}

/// Integrated gradients of a target for a batch of images, with what completeness needs.
public struct Attribution: Sendable {
    /// float32 [N, 3, H, W]: (x − baseline) ⊙ Σ_k w_k ∇f(baseline + α_k (x − baseline)).
    public var attributions: Tensor
    /// f(x) per image.
    public var values: [Float]
    /// f(baseline) per image.
    public var baselineValues: [Float]
    public var steps: Int
    public var method: IntegrationMethod

    /// Σ of each image's attributions (in Float64).
    public var sums: [Double] {
        let per = attributions.count / max(values.count, 1)
        let a = attributions.floats
        return values.indices.map { i in a[(i * per)..<((i + 1) * per)].reduce(0) { $0 + Double($1) } }
    }

    /// |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| per image: completeness
    /// says it tends to 0 as the steps grow.
    public var completenessErrors: [Double] {
        zip(sums, zip(values, baselineValues)).map { sum, pair in
            let delta = Double(pair.0) - Double(pair.1)
            return abs(sum - delta) / max(abs(delta), 1e-12)
        }
    }
}

/// Integrated gradients (Sundararajan, Taly & Yan 2017) computed as captum's
/// `IntegratedGradients(f).attribute(x, baselines, n_steps=steps, method=method)` computes
/// them: the points baseline + α_k (x − baseline) in float32, their gradients weighted by the
/// step sizes and summed, times (x − baseline).
public enum IntegratedGradients {
    /// - Parameters:
    ///   - images: [N, 3, H, W] float in [0, 1] at the target's input size.
    ///   - baseline: [1, 3, H, W] (for every image) or [N, 3, H, W].
    ///   - progress: called with (gradients done, gradients in all).
    public static func attribute(_ target: any ResponseTarget, images: Tensor, baseline: Tensor, steps: Int,
                                 method: IntegrationMethod, progress: ((Int, Int) -> Void)? = nil) throws -> Attribution {
        try target.checkInput(images)
        let (n, plane) = (images.shape[0], images.count / max(images.shape[0], 1))
        guard baseline.shape == images.shape || baseline.shape == [1] + images.shape.dropFirst() else {
            throw BERGError.shapeMismatch(what: "baseline (one image, or one per input image)", expected: [1] + images.shape.dropFirst(), actual: baseline.shape)
        }
        let (alphas, weights) = try method.quadrature(steps: steps)
        let x = images.floats, base = baseline.floats
        func baselineOf(_ i: Int) -> ArraySlice<Float> {
            let j = baseline.shape[0] == 1 ? 0 : i
            return base[(j * plane)..<((j + 1) * plane)]
        }
        // x − baseline, per image, in float32 as PyTorch forms it.
        var difference = [Float](repeating: 0, count: n * plane)
        for i in 0..<n {
            let b = baselineOf(i)
            for (k, bv) in b.enumerated() { difference[i * plane + k] = x[i * plane + k] - bv }
        }
        var total = [Float](repeating: 0, count: n * plane)
        let points = (0..<n).flatMap { i in (0..<alphas.count).map { (image: i, step: $0) } }
        let batch = max(1, target.preferredBatch)
        var done = 0
        for start in stride(from: 0, to: points.count, by: batch) {
            let chunk = points[start..<min(start + batch, points.count)]
            var scaled = [Float](repeating: 0, count: chunk.count * plane)
            for (row, point) in chunk.enumerated() {
                let alpha = Float(alphas[point.step])
                let b = baselineOf(point.image)
                let d = point.image * plane
                for (k, bv) in b.enumerated() { scaled[row * plane + k] = bv + alpha * difference[d + k] }
            }
            let (_, gradients) = try target.valuesAndGradients(Tensor(shape: [chunk.count] + images.shape.dropFirst(), floats: scaled))
            let g = gradients.floats
            for (row, point) in chunk.enumerated() {
                let w = Float(weights[point.step])
                let d = point.image * plane
                for k in 0..<plane { total[d + k] += g[row * plane + k] * w }
            }
            done += chunk.count
            progress?(done, points.count)
        }
        for k in total.indices { total[k] *= difference[k] }
        let values = try target.values(images)
        let baselineImages = baseline.shape[0] == 1 && n > 1
            ? try Tensor(shape: images.shape, floats: Array((0..<n).map { _ in base }.joined()))
            : baseline
        let baselineValues = try target.values(baselineImages)
        return Attribution(attributions: try Tensor(shape: images.shape, floats: total), values: values,
                           baselineValues: baselineValues, steps: steps, method: method)
    }
}
