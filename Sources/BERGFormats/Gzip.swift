import BERGCore
import CZlib
import Foundation

/// gzip through zlib, for `.nii.gz` files (and raw deflate, for the first bytes of a zip member).
enum Gzip {
    static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Inflates at most `limit` bytes (fewer if the stream ends first), following concatenated
    /// gzip members; with `raw`, one raw deflate stream (a zip member's bytes). Reading stops at
    /// the limit, so a small hostile file cannot expand without bound.
    static func inflate(_ data: Data, limit: Int, path: String, raw: Bool = false) throws -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, raw ? -15 : 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw BERGError.missingDependency("zlib could not start an inflater")
        }
        defer { inflateEnd(&stream) }
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        return try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Data in
            guard let base = input.bindMemory(to: Bytef.self).baseAddress else { return Data() }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(input.count)
            while output.count < limit {
                let want = min(chunk.count, limit - output.count)
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(want)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, want - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced > 0:
                    continue
                case Z_STREAM_END:
                    // Another gzip member may follow.
                    guard !raw, stream.avail_in > 0, inflateReset(&stream) == Z_OK else { return output }
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "truncated or corrupt gzip stream"
                    throw BERGError.corruptFile(path: path, offset: Int(stream.total_in), message: "gzip: \(detail)")
                }
            }
            return output
        }
    }

    /// Writes a file's bytes, produced chunk by chunk, as one gzip member (or as they are, with
    /// `level` nil) through `sink`, pigz-style: chunks of `chunkBytes` are filled and deflated
    /// independently on `threads` workers, each raw deflate stream ending in a sync flush (an
    /// empty stored block, byte-aligned, not final) so that they concatenate into one stream;
    /// the last ends the stream. Each chunk's CRC-32 is joined with `crc32_combine`. Only
    /// max(8, 2 × threads) chunks are in memory at a time, and `sink` gets them in file order.
    ///
    /// `fill(range, buffer)` writes bytes `range` of the file into `buffer` (`range.count` bytes,
    /// 16-byte aligned); it runs concurrently for disjoint ranges, whose bounds are multiples
    /// of `chunkBytes` (or the end).
    static func stream(count: Int, level: Int32? = 1, threads: Int, chunkBytes: Int = 1 << 20,
                       fill: @Sendable (Range<Int>, UnsafeMutableRawBufferPointer) -> Void,
                       sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(count >= 0 && chunkBytes > 0)
        let chunks = max(1, (count + chunkBytes - 1) / chunkBytes)
        let workers = max(1, min(threads, chunks))
        // More slots than workers, so that one slow chunk does not idle the others for a round;
        // each holds about 2 × chunkBytes.
        let slots = (0..<min(chunks, max(8, workers * 2))).map { _ in ChunkSlot(capacity: chunkBytes) }
        if level != nil {
            // ID1 ID2, deflate, no flags, no mtime, no extra flags, unknown OS.
            try [UInt8]([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]).withUnsafeBytes { try sink($0) }
        }
        var crc = crc32(0, nil, 0)
        var first = 0
        while first < chunks {
            let round = min(slots.count, chunks - first)
            let next = ChunkCounter()
            let roundStart = first
            withoutActuallyEscaping(fill) { fill in
                let box = UncheckedSendable((fill, slots))
                DispatchQueue.concurrentPerform(iterations: min(workers, round)) { _ in
                    while let s = next.take(below: round) {
                        let k = roundStart + s
                        let range = k * chunkBytes ..< min(count, (k + 1) * chunkBytes)
                        box.value.1[s].run(range, fill: box.value.0, level: level, last: k == chunks - 1)
                    }
                }
            }
            for s in 0..<round {
                let slot = slots[s]
                if let status = slot.failure {
                    throw BERGError.unsupported("zlib failed to compress (status \(status))")
                }
                if level == nil {
                    try sink(UnsafeRawBufferPointer(rebasing: slot.input[0..<slot.inputCount]))
                } else {
                    try slot.output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0.prefix(slot.produced))) }
                }
                crc = crc32_combine(crc, slot.crc, slot.inputCount)
            }
            first += round
        }
        if level != nil {
            var trailer = [UInt8]()
            for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: count)] {
                withUnsafeBytes(of: v.littleEndian) { trailer += $0 }
            }
            try trailer.withUnsafeBytes { try sink($0) }
        }
    }
}

/// One chunk's input, its deflated bytes and CRC-32; touched by one worker at a time.
private final class ChunkSlot: @unchecked Sendable {
    let input: UnsafeMutableRawBufferPointer
    var output: [UInt8] = []
    var produced = 0
    var inputCount = 0
    var crc: uLong = 0
    var failure: Int32? = nil

    init(capacity: Int) {
        input = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { input.deallocate() }

    func run(_ range: Range<Int>, fill: (Range<Int>, UnsafeMutableRawBufferPointer) -> Void, level: Int32?, last: Bool) {
        inputCount = range.count
        let bytes = UnsafeMutableRawBufferPointer(rebasing: input[0..<range.count])
        fill(range, bytes)
        failure = nil
        guard let level else { return }
        let base = bytes.bindMemory(to: Bytef.self).baseAddress
        crc = crc32(0, base, uInt(range.count))
        var stream = z_stream()
        // Raw deflate (negative window bits): the gzip header and trailer are written once, around all chunks.
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            failure = Z_STREAM_ERROR
            return
        }
        defer { deflateEnd(&stream) }
        // The bound holds a whole stream; the sync flush's empty stored block needs a few bytes more.
        let bound = Int(deflateBound(&stream, uLong(range.count))) + 16
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        stream.next_in = base
        stream.avail_in = uInt(range.count)
        let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
            stream.next_out = out.baseAddress
            stream.avail_out = uInt(out.count)
            return CZlib.deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
        }
        produced = output.count - Int(stream.avail_out)
        let done = last ? status == Z_STREAM_END : (status == Z_OK && stream.avail_in == 0 && stream.avail_out > 0)
        if !done { failure = status }
    }
}

/// Hands out 0, 1, 2, ... to the workers of one round.
private final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}
