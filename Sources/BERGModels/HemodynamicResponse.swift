import BERGCore
import Foundation

/// img2fmri's haemodynamic response function, for turning responses to movie frames into a
/// BOLD time course.
///
/// FACTS (img2fmri 1.0, `utils.conv_hrf_and_downsample`, "HRF (from AFNI)"): h(t) =
/// (t / (p·q))^p · exp(p − t / q) with p = 8.6 and q = 0.547, sampled at t = 0, 0.5, … < 15 s
/// (the 2 Hz frame rate), not normalised (its peak is 1 at t = p·q ≈ 4.7 s), and applied as
/// `np.convolve(series, h)[:frames]`: causal, cut to the series' length. `predict(...,
/// predict_movie=True)` itself writes the unconvolved frame series; the HRF is that tutorial
/// function's, which also resamples to the TR (not done here).
public enum HemodynamicResponse {
    public static let p = 8.6
    public static let q = 0.547
    /// How much of the response is kept, in seconds.
    public static let duration = 15.0

    /// h(t) at t = 0, Δ, 2Δ, … < 15 s for frames `interval` seconds apart (NumPy's
    /// `arange(0, 15, interval)`).
    public static func kernel(sampleInterval interval: Double) throws -> [Double] {
        guard interval > 0, interval.isFinite else {
            throw BERGError.invalidInput("the HRF needs a positive sample interval, got \(interval) s")
        }
        let count = Int((duration / interval).rounded(.up))
        return (0..<count).map { n in
            let t = Double(n) * interval
            return pow(t / (p * q), p) * exp(p - t / q)
        }
    }

    /// `series` [frames, values] (row-major) convolved along frames with `kernel`, keeping the
    /// first `frames` samples.
    public static func convolve(_ series: [Float], frames: Int, kernel: [Double]) throws -> [Float] {
        guard frames > 0, series.count % frames == 0 else {
            throw BERGError.shapeMismatch(what: "time series [frames, values]", expected: [frames, -1], actual: [series.count])
        }
        let width = series.count / frames
        var out = [Float](repeating: 0, count: series.count)
        var row = [Double](repeating: 0, count: width)
        for t in 0..<frames {
            for v in 0..<width { row[v] = 0 }
            for lag in 0..<min(kernel.count, t + 1) where kernel[lag] != 0 {
                let h = kernel[lag], from = (t - lag) * width
                for v in 0..<width { row[v] += h * Double(series[from + v]) }
            }
            for v in 0..<width { out[t * width + v] = Float(row[v]) }
        }
        return out
    }
}
