import BERGCore
import BERGFormats
import Foundation

/// Shard K of N of a stimulus source, as `berg encode --shard K/N` and plan tasks encode it.
///
/// GEMM results depend on the shape of the matrices (OpenBLAS picks kernels by size), so an
/// image encoded in another batch can differ in its last bits. Shards hold whole batches where
/// there are enough of them (`Shard.range(in:batchSize:)`); otherwise a shard is read in the
/// whole batches (of the run's batch size, counted from the first image) that hold its images,
/// and only its own rows are kept. Either way each image is encoded in the very batch a run
/// over all the images puts it in, and merged shards equal that run bit for bit (with the same
/// thread count).
public struct ShardedSource: StimulusSource {
    public let whole: any StimulusSource
    public let shard: Shard
    /// The shard's own images, as positions in `whole`.
    public let range: Range<Int>
    /// The whole batches that hold them, as positions in `whole`: what this source reads.
    public let covering: Range<Int>

    public init(_ whole: any StimulusSource, shard: Shard, batchSize: Int) throws {
        let range = shard.range(in: whole.count, batchSize: batchSize)
        guard !range.isEmpty else {
            throw BERGError.invalidArgument(name: "shard", value: shard.description, message: "the input holds \(whole.count) image(s), too few for \(shard.count) shards, so this one would be empty; use at most \(whole.count) shards")
        }
        self.whole = whole
        self.shard = shard
        self.range = range
        covering = ShardedSource.covering(range, batchSize: batchSize, count: whole.count)
    }

    /// The whole batches of `batchSize` (counted from 0) that hold `range`, within `0..<count`.
    public static func covering(_ range: Range<Int>, batchSize: Int, count: Int) -> Range<Int> {
        let batch = max(1, batchSize)
        return range.lowerBound / batch * batch ..< min(count, (range.upperBound + batch - 1) / batch * batch)
    }

    public var count: Int { covering.count }
    public var names: [String] { Array(whole.names[covering]) }
    /// The names of the shard's own images (`names` also holds the covering batches' others).
    public var ownNames: [String] { Array(whole.names[range]) }

    public func load(_ range: Range<Int>) throws -> [StimulusRun] {
        try whole.load(range.lowerBound + covering.lowerBound ..< range.upperBound + covering.lowerBound)
    }

    /// The shard's own rows of what this source encodes to.
    var keep: Range<Int> { range.lowerBound - covering.lowerBound ..< range.upperBound - covering.lowerBound }

    /// One sink that hands only the shard's own rows (and names) to `sinks`.
    func keepingOwnRows(_ sinks: [ResultSink]) -> ResultSink { OwnRowsSink(sinks: sinks, keep: keep, shard: self) }

    /// A run's summary as the shard's alone: its names, and its number of rows.
    func narrowed(_ summary: EncodingSummary) -> EncodingSummary {
        var narrowed = summary
        narrowed.stimulusNames = ownNames
        narrowed.shapes = summary.shapes.mapValues { [range.count] + $0.dropFirst() }
        return narrowed
    }
}

/// Passes on the rows `keep` of the batches it is given, counting rows as they come.
private final class OwnRowsSink: ResultSink {
    let sinks: [ResultSink]
    let keep: Range<Int>
    let shard: ShardedSource
    private var position = 0

    init(sinks: [ResultSink], keep: Range<Int>, shard: ShardedSource) {
        self.sinks = sinks
        self.keep = keep
        self.shard = shard
    }

    func append(_ batch: EncodingResult) throws {
        let rows = batch.responses.values.first?.shape.first ?? 0
        let batchRange = position ..< position + rows
        position += rows
        let wanted = batchRange.clamped(to: keep)
        guard !wanted.isEmpty else { return }
        let part = try batch.rows(wanted.lowerBound - batchRange.lowerBound ..< wanted.upperBound - batchRange.lowerBound)
        for sink in sinks { try sink.append(part) }
    }

    func finish(_ summary: EncodingSummary) throws {
        for sink in sinks { try sink.finish(shard.narrowed(summary)) }
    }

    func commit() throws { for sink in sinks { try sink.commit() } }
    func discard() { for sink in sinks { sink.discard() } }
}

extension EncodingResult {
    /// Rows `range` of every response array (and of the stimulus names, when there are any).
    func rows(_ range: Range<Int>) throws -> EncodingResult {
        var part = self
        for (name, tensor) in responses {
            guard let n = tensor.shape.first, range != 0 ..< n else { continue }
            let width = tensor.shape.dropFirst().reduce(1, *)
            part.responses[name] = try Tensor(shape: [range.count] + tensor.shape.dropFirst(),
                                              floats: Array(tensor.floats[range.lowerBound * width ..< range.upperBound * width]))
        }
        if range.upperBound <= stimulusNames.count { part.stimulusNames = Array(stimulusNames[range]) }
        return part
    }
}
