/// Receives progress of long work, such as images encoded so far.
public protocol ProgressReporter: Sendable {
    func report(completed: Int, total: Int, message: String)
}

/// What an encoder returns: named response arrays and the metadata that describes them.
public struct EncodingResult: Sendable {
    /// "responses" for a single array; "lh"/"rh" for two hemispheres.
    public var responses: [String: Tensor]
    public var metadata: Metadata
    public init(responses: [String: Tensor], metadata: Metadata) {
        self.responses = responses
        self.metadata = metadata
    }
}

/// The one protocol every encoder follows.
public protocol EncodingModel: Sendable {
    var modelID: String { get }
    var subject: Subject { get }
    var selection: Selection { get }
    var device: Device { get }
    /// The encoder's own metadata (model file contents, voxel indices, ...), without running it.
    var metadata: Metadata { get }
    func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult
}

extension EncodingModel {
    public func encode(_ stimulus: Stimulus) throws -> EncodingResult {
        try encode(stimulus, progress: nil)
    }
}
