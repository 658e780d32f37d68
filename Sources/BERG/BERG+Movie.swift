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
    /// `hrf`, convolved with img2fmri's haemodynamic response. The result has one row per frame,
    /// `frame_times` and `frame_interval` (s) in its metadata, and a volume placement when the
    /// model has one (a 4-D NIfTI with `writeResponseVolume`).
    public func encodeMovie(_ model: any EncodingModel, path: String, fps: Double = 2, hrf: Bool = true,
                            batchSize: Int = 64, progress: ProgressReporter? = nil) throws -> EncodingResult {
        let movie = try BERG.loadMovie(path, fps: fps)
        let collector = ResultCollector()
        try encode(model, StimulusArray(movie.stimulus), batchSize: batchSize, progress: progress,
                   into: [MovieTimeCourse(movie: movie, fps: fps, hrf: hrf, sinks: [collector])])
        return try collector.result()
    }

    /// Whether a path names a NIfTI file (`.nii` or `.nii.gz`).
    public static func isNIfTI(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz")
    }
}

/// A movie's frames on their way to the sinks: with `hrf`, each output's time course convolved
/// with img2fmri's haemodynamic response as the batches come (the HRF is causal, so a frame needs
/// only the frames before it that the kernel reaches, which are kept); the frames' times in the
/// summary's metadata.
final class MovieTimeCourse: ResultSink {
    private let movie: MovieFrames
    private let fps: Double
    private let kernel: [Double]?
    private let sinks: [ResultSink]
    /// Per output, its last frames (up to the kernel's length − 1), row by row.
    private var history: [String: (rows: Int, values: [Float])] = [:]

    init(movie: MovieFrames, fps: Double, hrf: Bool, sinks: [ResultSink]) throws {
        self.movie = movie
        self.fps = fps
        kernel = hrf ? try HemodynamicResponse.kernel(sampleInterval: 1 / fps) : nil
        self.sinks = sinks
    }

    func append(_ batch: EncodingResult) throws {
        var out = batch
        if let kernel {
            for (name, responses) in batch.responses {
                let frames = responses.shape[0], width = responses.count / max(frames, 1)
                let past = history[name] ?? (0, [])
                let series = past.values + responses.floats
                let convolved = try HemodynamicResponse.convolve(series, frames: past.rows + frames, kernel: kernel)
                out.responses[name] = try Tensor(shape: responses.shape, floats: Array(convolved.suffix(frames * width)))
                let keep = min(kernel.count - 1, past.rows + frames)
                history[name] = (keep, Array(series.suffix(keep * width)))
            }
        }
        for sink in sinks { try sink.append(out) }
    }

    func finish(_ summary: EncodingSummary) throws {
        var summary = summary
        summary.metadata["frame_times"] = .tensor(try Tensor(shape: [movie.times.count], doubles: movie.times))
        summary.metadata["frame_indices"] = .tensor(try Tensor(shape: [movie.frameIndices.count], int64s: movie.frameIndices.map(Int64.init)))
        summary.metadata["frame_interval"] = .double(1 / fps)
        if kernel != nil {
            summary.metadata["hrf"] = .string("img2fmri: (t/(p q))^p exp(p - t/q), p = \(HemodynamicResponse.p), q = \(HemodynamicResponse.q), 0 ≤ t < \(HemodynamicResponse.duration) s, every \(1 / fps) s")
        }
        for sink in sinks { try sink.finish(summary) }
    }

    func commit() throws { for sink in sinks { try sink.commit() } }

    func discard() { for sink in sinks { sink.discard() } }
}
