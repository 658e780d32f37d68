/// Receives progress of long work, such as images encoded so far.
public protocol ProgressReporter: Sendable {
    func report(completed: Int, total: Int, message: String)
}

/// What an encoder returns: named response arrays, the metadata that describes them, the
/// stimuli's names, and where the responses lie in space when the model says.
public struct EncodingResult: Sendable {
    /// "responses" for a single array; "lh"/"rh" for two hemispheres.
    public var responses: [String: Tensor]
    public var metadata: Metadata
    /// One name per stimulus (file names, or `image-0` … for arrays), in response order.
    public var stimulusNames: [String]
    public var placement: ResponsePlacement?
    /// Things the run did that the caller should hear about, one line each (such as an
    /// image's transparency dropped on loading); the command line prints them as `warning:`.
    public var warnings: [String]
    /// Values along the response axes for the units selected, such as an EEG model's
    /// `ch_names` and `times`; written beside the responses in an `.h5` file.
    public var labels: Metadata

    public init(responses: [String: Tensor], metadata: Metadata, stimulusNames: [String] = [],
                placement: ResponsePlacement? = nil, warnings: [String] = [], labels: Metadata = Metadata()) {
        self.responses = responses
        self.metadata = metadata
        self.stimulusNames = stimulusNames
        self.placement = placement
        self.warnings = warnings
        self.labels = labels
    }

    /// The one response array of a single-output model; for several outputs (`lh`, `rh`), an
    /// error naming them (use `responses[name]`).
    public var response: Tensor {
        get throws {
            guard responses.count == 1, let only = responses.values.first else {
                throw BERGError.invalidInput("this result has \(responses.count) outputs (\(responses.keys.sorted().joined(separator: ", "))); pick one with responses[name]")
            }
            return only
        }
    }

    /// Output names, sorted.
    public var outputNames: [String] { responses.keys.sorted() }
}

/// The one protocol every encoder follows.
public protocol EncodingModel: Sendable {
    var modelID: String { get }
    var subject: Subject { get }
    var selection: Selection { get }
    var device: Device { get }
    /// The encoder's own metadata (model file contents, voxel indices, ...), without running it.
    var metadata: Metadata { get }
    /// Where the responses lie (voxels, vertices, pRFs), or nil.
    var placement: ResponsePlacement? { get }
    /// Responses to the stimulus; the encoder does all preprocessing (square crop, resize,
    /// normalisation), so any size of image may come in.
    func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult
}

extension EncodingModel {
    public var placement: ResponsePlacement? { nil }

    public func encode(_ stimulus: Stimulus) throws -> EncodingResult {
        try encode(stimulus, progress: nil)
    }
}

/// What a run gives besides its response rows: the model's and the run's metadata, every
/// stimulus's name, and where the responses lie.
public struct EncodingSummary: Sendable {
    public var metadata: Metadata
    public var stimulusNames: [String]
    public var placement: ResponsePlacement?
    /// Each output's whole shape, images first.
    public var shapes: [String: [Int]]
    /// What loading the stimuli changed that the caller should hear about (`Stimulus.warnings`).
    public var warnings: [String]

    public init(metadata: Metadata, stimulusNames: [String], placement: ResponsePlacement?, shapes: [String: [Int]] = [:],
                warnings: [String] = []) {
        self.metadata = metadata
        self.stimulusNames = stimulusNames
        self.placement = placement
        self.shapes = shapes
        self.warnings = warnings
    }
}

/// Receives a run's results a batch at a time, in stimulus order, so that nothing has to hold
/// all of them: a file being written, a picture being drawn, or a collector in memory.
public protocol ResultSink: AnyObject {
    /// The next batch's responses (rows in stimulus order).
    func append(_ batch: EncodingResult) throws
    /// After the last batch: completes the output, not yet where it is visible (a temporary file).
    func finish(_ summary: EncodingSummary) throws
    /// After every sink finished: makes the output visible (renames it into place).
    func commit() throws
    /// After a failure: removes whatever was written.
    func discard()
}
