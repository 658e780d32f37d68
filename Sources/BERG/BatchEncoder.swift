import BERGCore
import Foundation

/// One pass of a model over a stimulus source: batches are decoded one ahead of the model,
/// encoded run by run (images of one size), joined in order, and handed to the sinks.
struct BatchEncoder {
    let model: any EncodingModel
    let source: any StimulusSource
    let batchSize: Int
    let progress: ProgressReporter?
    let sinks: [ResultSink]

    func run() throws -> EncodingSummary {
        guard batchSize > 0 else {
            throw BERGError.invalidArgument(name: "batch size", value: String(batchSize), message: "must be at least 1")
        }
        let total = source.count
        guard total > 0 else { throw BERGError.invalidInput("There are no images to encode") }
        let batches = stride(from: 0, to: total, by: batchSize).map { $0 ..< min($0 + batchSize, total) }
        let source = self.source
        var metadata: Metadata? = nil
        var widths: [String: [Int]]? = nil  // each output's shape after the images axis
        var waiting = 0                      // unreadable images before the first readable one
        var crops: [String] = [], unreadable: [String] = [], warnings: [String] = []
        var next: InBackground<[StimulusRun]>? = InBackground { try source.load(batches[0]) }
        for (b, range) in batches.enumerated() {
            let runs = try next!.result()
            if b + 1 < batches.count {
                let following = batches[b + 1]
                next = InBackground { try source.load(following) }
            } else {
                next = nil
            }
            var parts: [EncodingResult] = []
            var done = range.lowerBound
            for run in runs {
                switch run {
                case .images(let stimulus):
                    warnings += stimulus.warnings
                    let inner = progress.map { BatchProgress(inner: $0, offset: done, total: total) }
                    let result = try model.encode(stimulus, progress: inner)
                    if widths == nil {
                        widths = result.responses.mapValues { Array($0.shape.dropFirst()) }
                        if waiting > 0 { parts.append(try BatchEncoder.unreadableRows(waiting, widths!)) }
                        waiting = 0
                    }
                    if metadata == nil { metadata = result.metadata }
                    if let crop = result.metadata.string("stimulus_crop") { crops.append(crop) }
                    parts.append(result)
                case .unreadable(let names, let reasons):
                    unreadable += zip(names, reasons).map { "\($0): \($1)" }
                    if let widths { parts.append(try BatchEncoder.unreadableRows(names.count, widths)) } else { waiting += names.count }
                }
                done += run.count
            }
            if !parts.isEmpty {
                let batch = try BatchEncoder.join(parts)
                for sink in sinks { try sink.append(batch) }
            }
            progress?.report(completed: range.upperBound, total: total, message: "images")
        }
        guard var metadata else {
            throw BERGError.invalidInput("None of the \(total) images could be read: \(unreadable.prefix(3).joined(separator: "; "))")
        }
        metadata.merge(BERG.runMetadata(id: model.modelID, subject: model.subject, selection: model.selection))
        metadata["stimulus_crop"] = crops.isEmpty ? nil : .string(crops.joined(separator: "; "))
        if !unreadable.isEmpty { metadata["unreadable_stimuli"] = .strings(unreadable) }
        return EncodingSummary(metadata: metadata, stimulusNames: source.names, placement: model.placement,
                               shapes: (widths ?? [:]).mapValues { [total] + $0 }, warnings: warnings)
    }

    /// NaN responses for images that could not be read.
    static func unreadableRows(_ count: Int, _ widths: [String: [Int]]) throws -> EncodingResult {
        EncodingResult(responses: try widths.mapValues { shape in
            try Tensor(shape: [count] + shape, floats: [Float](repeating: .nan, count: count * shape.reduce(1, *)))
        }, metadata: Metadata())
    }

    /// Joins results along the images axis.
    static func join(_ parts: [EncodingResult]) throws -> EncodingResult {
        guard var first = parts.first else { throw BERGError.invalidInput("nothing to encode") }
        guard parts.count > 1 else { return first }
        for name in first.responses.keys {
            let tensors = try parts.map { part -> Tensor in
                guard let t = part.responses[name], Array(t.shape.dropFirst()) == Array(first.responses[name]!.shape.dropFirst()) else {
                    throw BERGError.shapeMismatch(what: "batch of output \(name)", expected: first.responses[name]!.shape,
                                                  actual: part.responses[name]?.shape ?? [])
                }
                return t
            }
            var floats: [Float] = []
            floats.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
            for t in tensors { floats += t.floats }
            first.responses[name] = try Tensor(shape: [tensors.reduce(0) { $0 + $1.shape[0] }] + first.responses[name]!.shape.dropFirst(), floats: floats)
        }
        return first
    }
}

/// Keeps every batch in memory and joins them: `BERG.encode`'s in-memory result.
final class ResultCollector: ResultSink {
    private var batches: [EncodingResult] = []
    private var summary: EncodingSummary?

    func append(_ batch: EncodingResult) throws { batches.append(batch) }
    func finish(_ summary: EncodingSummary) throws { self.summary = summary }
    func commit() throws {}
    func discard() { batches = [] }

    func result() throws -> EncodingResult {
        guard let summary else { throw BERGError.invalidInput("the run did not finish") }
        var joined = try BatchEncoder.join(batches)
        joined.metadata = summary.metadata
        joined.stimulusNames = summary.stimulusNames
        joined.placement = summary.placement
        joined.warnings = summary.warnings
        return joined
    }
}

/// Turns a batch's progress into progress over the whole stimulus.
struct BatchProgress: ProgressReporter {
    let inner: any ProgressReporter
    let offset: Int
    let total: Int
    func report(completed: Int, total _: Int, message: String) {
        inner.report(completed: offset + completed, total: total, message: message)
    }
}

/// Work started on another thread now, whose result (or error) is collected later.
final class InBackground<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?

    init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.outcome = Result { try work() }
            self.done.signal()
        }
    }

    /// Waits for the work, then returns its value or throws its error.
    func result() throws -> Value {
        done.wait()
        done.signal()  // later calls return at once
        return try outcome!.get()
    }
}
