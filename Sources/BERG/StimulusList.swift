import BERGCore
import BERGFormats
import Foundation

/// What an `--input` names, listed without decoding any image: its image files (a folder in
/// name order, a list file in its own order, or one image), or the rows of a uint8 `.npy`
/// array. This is the order `berg encode` reads them in, and the list that shards split.
public enum StimulusList: Sendable, Equatable {
    case files([String])
    case array(path: String, count: Int)

    /// How many images.
    public var count: Int {
        switch self {
        case .files(let files): return files.count
        case .array(_, let count): return count
        }
    }

    /// The list for an input path, as `StimulusLoader` reads it.
    public static func of(_ input: String) throws -> StimulusList {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
            throw BERGError.fileNotFound(path: input, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        if isFolder.boolValue { return .files(try StimulusLoader.imageFiles(inFolder: input)) }
        let ext = URL(fileURLWithPath: input).pathExtension.lowercased()
        if ext == "npy" {
            let header = try NPYFile.parseHeader(NPYFile.readFile(input), path: input)
            return .array(path: input, count: header.shape.count == 3 ? 1 : header.shape.first ?? 0)
        }
        if ImageCodec.imageExtensions.contains(ext) { return .files([input]) }
        let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: input)).read(upToCount: 8)) ?? nil
        if let head, ImageCodec.format(of: head) != nil { return .files([input]) }
        return .files(try StimulusLoader.imageFiles(listedIn: input))
    }

    /// What a shard's task decodes and which of it is the shard's. GEMM results depend on the
    /// shape of the matrices (OpenBLAS picks kernels by size), so an image encoded in another
    /// batch can differ in the last bit. A shard therefore decodes the whole batches (of
    /// `batchSize`, counted from the first image) that hold its images, and keeps only its own
    /// rows: each image is then encoded in the very batch a single run over all of them puts
    /// it in. This costs at most `batchSize − 1` extra images at either end of a shard.
    public struct ShardInput: Sendable {
        public var stimuli: [Stimulus]
        /// The shard's rows of what `stimuli` encode to.
        public var keep: Range<Int>
    }

    /// The shard's images (all of them when nil), decoded as runs of same-size images, named
    /// as a load of the whole input names them, in the covering batches described above.
    public func load(_ shard: Shard?, batchSize: Int, source: String, threads: Int) throws -> ShardInput {
        let range = try self.range(of: shard, source: source)
        let covering = coveringBatches(of: range, batchSize: batchSize)
        let keep = range.lowerBound - covering.lowerBound ..< range.upperBound - covering.lowerBound
        switch self {
        case .files(let files):
            return ShardInput(stimuli: try StimulusLoader.loadRuns(files: files, range: covering, source: source, threads: threads),
                              keep: keep)
        case .array(let path, _):
            let whole = try StimulusLoader.load(path, threads: threads)
            return ShardInput(stimuli: [covering.count == whole.count ? whole : whole.batch(covering)], keep: keep)
        }
    }

    /// The whole batches of `batchSize` (counted from the first image) that hold `range`.
    public func coveringBatches(of range: Range<Int>, batchSize: Int) -> Range<Int> {
        let batch = max(1, batchSize)
        return range.lowerBound / batch * batch ..< min(count, (range.upperBound + batch - 1) / batch * batch)
    }

    /// The positions a shard holds (all when nil); an empty shard is an error.
    public func range(of shard: Shard?, source: String) throws -> Range<Int> {
        guard let shard else { return 0 ..< count }
        let range = shard.range(in: count)
        guard !range.isEmpty else {
            throw BERGError.invalidArgument(name: "shard", value: shard.description, message: "\(source) holds \(count) image(s), too few for \(shard.count) shards, so this one would be empty; use at most \(count) shards")
        }
        return range
    }
}
