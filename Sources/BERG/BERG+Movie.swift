import BERGCore
import BERGFormats
import BERGModels
import Foundation

extension BERG {
    /// The frames of a movie at `fps` per second, img2fmri's way (it samples at 2): frame
    /// round(t × movie fps) for t = 0, 1/fps, … while t is shorter than the movie. Decoded
    /// with FFmpeg.
    public static func loadMovie(_ path: String, fps: Double = 2) throws -> MovieFrames {
        try MovieReader.sample(path, rate: fps)
    }

    /// Each output's time course [frames, …] convolved with img2fmri's haemodynamic response,
    /// sampled every `1 / fps` s (`HemodynamicResponse`): the BOLD signal the frames would
    /// evoke, frame by frame. The metadata records the HRF and the frame interval.
    public static func convolveWithHRF(_ result: EncodingResult, fps: Double) throws -> EncodingResult {
        let kernel = try HemodynamicResponse.kernel(sampleInterval: 1 / fps)
        var convolved = result
        for (name, responses) in result.responses {
            guard responses.rank >= 1, responses.shape[0] > 0 else { continue }
            convolved.responses[name] = try Tensor(
                shape: responses.shape,
                floats: HemodynamicResponse.convolve(responses.floats, frames: responses.shape[0], kernel: kernel))
        }
        convolved.metadata["hrf"] = .string("img2fmri: (t/(p q))^p exp(p - t/q), p = \(HemodynamicResponse.p), q = \(HemodynamicResponse.q), 0 ≤ t < \(HemodynamicResponse.duration) s")
        return convolved
    }

    /// A movie through a model: its frames at `fps` per second (`loadMovie`), encoded, then, with
    /// `hrf`, convolved with img2fmri's haemodynamic response (`convolveWithHRF`). The result
    /// has one row per frame, `frame_times` and `frame_interval` (s) in its metadata, and a
    /// volume placement when the model has one (a 4-D NIfTI with `writeResponseVolume`).
    public func encodeMovie(_ model: any EncodingModel, path: String, fps: Double = 2, hrf: Bool = true,
                            batchSize: Int = 64, progress: ProgressReporter? = nil) throws -> EncodingResult {
        let movie = try BERG.loadMovie(path, fps: fps)
        return try BERG.movieResult(encode(model, movie.stimulus, batchSize: batchSize, progress: progress),
                                    movie: movie, fps: fps, hrf: hrf)
    }

    /// A movie's encoded frames, with `hrf` convolved with the HRF, and the frames' times in the
    /// metadata.
    static func movieResult(_ encoded: EncodingResult, movie: MovieFrames, fps: Double, hrf: Bool) throws -> EncodingResult {
        var result = hrf ? try convolveWithHRF(encoded, fps: fps) : encoded
        result.metadata["frame_times"] = .tensor(try Tensor(shape: [movie.times.count], doubles: movie.times))
        result.metadata["frame_indices"] = .tensor(try Tensor(shape: [movie.frameIndices.count], int64s: movie.frameIndices.map(Int64.init)))
        result.metadata["frame_interval"] = .double(1 / fps)
        return result
    }

    /// Whether a path names a NIfTI file (`.nii` or `.nii.gz`).
    public static func isNIfTI(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz")
    }
}
