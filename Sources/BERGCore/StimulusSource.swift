/// Stimuli read a batch at a time, so that memory does not grow with how many there are.
/// Folders and lists of image files are decoded batch by batch, `.npy` arrays are mapped, and
/// stimuli already in memory (`StimulusArray`) work the same way.
public protocol StimulusSource: Sendable {
    /// How many stimuli.
    var count: Int { get }
    /// One name per stimulus, in order.
    var names: [String] { get }
    /// Stimuli `range`, in order, as runs of images of one size; with a source that skips
    /// unreadable files, such files come as `.unreadable` runs instead of an error.
    func load(_ range: Range<Int>) throws -> [StimulusRun]
}

/// Consecutive stimuli of a batch.
public enum StimulusRun: Sendable {
    /// Images of one size.
    case images(Stimulus)
    /// Files that could not be read, with why; their responses are NaN.
    case unreadable(names: [String], reasons: [String])

    public var count: Int {
        switch self {
        case .images(let s): return s.count
        case .unreadable(let names, _): return names.count
        }
    }
}

/// Stimuli already in memory, as one or more runs of images of one size.
public struct StimulusArray: StimulusSource {
    public let stimuli: [Stimulus]
    public init(_ stimuli: [Stimulus]) { self.stimuli = stimuli }
    public init(_ stimulus: Stimulus) { self.stimuli = [stimulus] }

    public var count: Int { stimuli.reduce(0) { $0 + $1.count } }
    public var names: [String] { stimuli.flatMap(\.names) }

    public func load(_ range: Range<Int>) throws -> [StimulusRun] {
        var runs: [StimulusRun] = []
        var offset = 0
        for stimulus in stimuli {
            let lower = max(range.lowerBound - offset, 0), upper = min(range.upperBound - offset, stimulus.count)
            if lower < upper {
                var part = stimulus.batch(lower..<upper)
                if lower == 0 { part.warnings = stimulus.warnings }  // once, with its first batch
                runs.append(.images(part))
            }
            offset += stimulus.count
        }
        return runs
    }
}
