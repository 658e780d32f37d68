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

    /// Writes `count` bytes, produced range by range, through a `GzipWriter` (or as they are,
    /// with `level` nil). `fill(range, buffer)` writes bytes `range` of the file into `buffer`.
    static func stream(count: Int, level: Int32? = 1, threads: Int, chunkBytes: Int = 1 << 20,
                       fill: (Range<Int>, UnsafeMutableRawBufferPointer) -> Void,
                       sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            let writer = GzipWriter(level: level, threads: threads, chunkBytes: chunkBytes, sink: sink)
            var start = 0
            while start < count {
                let end = min(count, start + chunkBytes)
                try writer.write(count: end - start) { fill(start..<end, $0) }
                start = end
            }
            try writer.finish()
        }
    }
}

/// A file's bytes, pushed in order, written as one gzip member (or as they are, with `level`
/// nil) through `sink`, pigz-style: chunks of `chunkBytes` are deflated independently on
/// `threads` workers, each raw deflate stream ending in a sync flush (an empty stored block,
/// byte-aligned, not final) so that they concatenate into one stream; the last ends the stream.
/// Each chunk's CRC-32 is joined with `crc32_combine`. Only max(8, 2 × threads) chunks are in
/// memory at a time, and `sink` gets them in file order. The output depends only on the bytes,
/// the level and `chunkBytes`, not on how the bytes were pushed or on the thread count.
final class GzipWriter {
    private let level: Int32?
    private let threads: Int
    private let chunkBytes: Int
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private let slots: [ChunkSlot]
    /// Slots filled (the last one possibly in part) since the last round.
    private var filled = 0
    private var total = 0
    private var crc = crc32(0, nil, 0)
    private var started = false

    init(level: Int32?, threads: Int, chunkBytes: Int = 1 << 20, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        precondition(chunkBytes > 0)
        self.level = level
        self.threads = max(1, threads)
        self.chunkBytes = chunkBytes
        self.sink = sink
        // More slots than workers, so that one slow chunk does not idle the others for a round;
        // each holds about 2 × chunkBytes.
        slots = level == nil ? [] : (0..<max(8, self.threads * 2)).map { _ in ChunkSlot(capacity: chunkBytes) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let n = try write(count: rest.count) { buffer in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(buffer.count))) }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Lets `fill` write the next bytes straight into the chunk buffer: it is given room for at
    /// most `count` bytes (less at a chunk's end) and must fill all of it. Returns how many.
    @discardableResult
    func write(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws -> Int {
        try startIfNeeded()
        guard level != nil else {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
            defer { buffer.deallocate() }
            fill(buffer)
            total += count
            try sink(UnsafeRawBufferPointer(buffer))
            return count
        }
        // A full last slot is only compressed once more bytes arrive, so that the chunk that ends
        // the file is always compressed as the last one.
        if filled == slots.count, slots[filled - 1].inputCount == chunkBytes { try compressRound(last: false) }
        if filled == 0 || slots[filled - 1].inputCount == chunkBytes {
            slots[filled].inputCount = 0
            filled += 1
        }
        let slot = slots[filled - 1]
        let n = min(count, chunkBytes - slot.inputCount)
        fill(UnsafeMutableRawBufferPointer(rebasing: slot.input[slot.inputCount ..< slot.inputCount + n]))
        slot.inputCount += n
        total += n
        return n
    }

    /// Compresses what is left as the end of the stream and writes the trailer.
    func finish() throws {
        try startIfNeeded()
        guard level != nil else { return }
        if filled == 0 { slots[0].inputCount = 0; filled = 1 }  // an empty file is one empty final chunk
        try compressRound(last: true)
        var trailer = [UInt8]()
        for v in [UInt32(truncatingIfNeeded: crc), UInt32(truncatingIfNeeded: total)] {
            withUnsafeBytes(of: v.littleEndian) { trailer += $0 }
        }
        try trailer.withUnsafeBytes { try sink($0) }
    }

    private func startIfNeeded() throws {
        guard !started else { return }
        started = true
        if level != nil {
            // ID1 ID2, deflate, no flags, no mtime, no extra flags, unknown OS.
            try [UInt8]([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]).withUnsafeBytes { try sink($0) }
        }
    }

    /// Deflates the filled slots on the workers and hands them to the sink in order.
    private func compressRound(last: Bool) throws {
        guard let level else { return }
        let round = filled
        let next = ChunkCounter()
        let box = UncheckedSendable(slots)
        DispatchQueue.concurrentPerform(iterations: min(threads, round)) { _ in
            while let s = next.take(below: round) {
                box.value[s].compress(level: level, last: last && s == round - 1)
            }
        }
        for slot in slots[0..<round] {
            if let status = slot.failure { throw BERGError.unsupported("zlib failed to compress (status \(status))") }
            try slot.output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0.prefix(slot.produced))) }
            crc = crc32_combine(crc, slot.crc, slot.inputCount)
        }
        filled = 0
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

    func compress(level: Int32, last: Bool) {
        failure = nil
        let bytes = UnsafeMutableRawBufferPointer(rebasing: input[0..<inputCount])
        let base = bytes.bindMemory(to: Bytef.self).baseAddress
        crc = crc32(0, base, uInt(inputCount))
        var stream = z_stream()
        // Raw deflate (negative window bits): the gzip header and trailer are written once, around all chunks.
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            failure = Z_STREAM_ERROR
            return
        }
        defer { deflateEnd(&stream) }
        // The bound holds a whole stream; the sync flush's empty stored block needs a few bytes more.
        let bound = Int(deflateBound(&stream, uLong(inputCount))) + 16
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        stream.next_in = base
        stream.avail_in = uInt(inputCount)
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
