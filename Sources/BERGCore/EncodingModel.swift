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

    public init(responses: [String: Tensor], metadata: Metadata, stimulusNames: [String] = [],
                placement: ResponsePlacement? = nil) {
        self.responses = responses
        self.metadata = metadata
        self.stimulusNames = stimulusNames
        self.placement = placement
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
