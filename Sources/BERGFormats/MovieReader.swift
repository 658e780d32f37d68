import BERGCore
import CFFmpeg
import Foundation

/// Frames sampled from a movie at a fixed rate, as RGB images, and when each was taken.
public struct MovieFrames: Sendable {
    /// The frames, [frames, 3, H, W], named `frame-0000`, … in time order.
    public var stimulus: Stimulus
    /// The sample times (s) the frames stand for: 0, 1/rate, 2/rate, …
    public var times: [Double]
    /// Which frame of the movie (counting from 0) each sample is.
    public var frameIndices: [Int]
    /// The movie's frame rate (frames per second) and length in frames.
    public var movieFrameRate: Double
    public var movieFrameCount: Int
}

/// Movies (MP4, MOV, AVI, MKV, WebM, …) decoded with FFmpeg's libavformat and libavcodec, the
/// frames converted to RGB with libswscale.
///
/// FACTS (img2fmri 1.0, `utils.extract_frames`, and OpenCV's FFmpeg capture, which it uses):
/// - The movie lasts frame_count / fps seconds: `CAP_PROP_FRAME_COUNT` is the stream's
///   `nb_frames` (else duration × fps) and `CAP_PROP_FPS` its average frame rate
///   (landscape.mp4: 170 frames at 23.976 fps, 7.09 s).
/// - img2fmri seeks to t = 0, 0.5, 1.0, … s while t is shorter than the movie, and OpenCV
///   then returns frame round(t × fps), numbering frames by (timestamp − first frame's
///   timestamp) × fps, rounded (landscape.mp4's first frame is not at the stream's start): 15
///   frames for landscape.mp4. A seek past the last frame returns nothing and is skipped.
/// - OpenCV converts to BGR24 with swscale (SWS_BICUBIC), with the frame's own YUV matrix
///   (BT.709 for landscape.mp4; swscale's default would be BT.601, up to 5 grey levels off, as
///   FFmpeg's scale filter also does: both give the same pixels here); img2fmri writes each frame as JPEG
///   (OpenCV's default quality 95) and reads it back with Pillow. The JPEG round trip is not
///   repeated here: frames go to the model as decoded.
public enum MovieReader {
    /// The most bytes of RGB frames one call keeps (4 GiB).
    public static let maxFrameBytes = 4 << 30

    /// The frames at `rate` samples per second, img2fmri's way (see above).
    public static func sample(_ path: String, rate: Double) throws -> MovieFrames {
        guard rate > 0, rate.isFinite else {
            throw BERGError.invalidInput("the frame sampling rate must be a positive number of frames per second, got \(rate)")
        }
        guard FileManager.default.fileExists(atPath: path) else { throw BERGError.fileNotFound(path: path, hint: "the movie to encode") }
        let movie = try OpenMovie(path: path)
        defer { movie.close() }
        let duration = Double(movie.frameCount) / movie.frameRate
        var times: [Double] = [], targets: [Int] = []
        var k = 0
        while Double(k) / rate < duration {
            let t = Double(k) / rate
            times.append(t)
            targets.append(Int(t * movie.frameRate + 0.5))
            k += 1
        }
        let frameBytes = 3 * movie.width * movie.height
        guard frameBytes > 0, targets.count <= maxFrameBytes / frameBytes else {
            throw BERGError.limitExceeded(what: "bytes of \(targets.count) frames of \(movie.width)×\(movie.height) sampled from \(path) (lower --fps or cut the movie)",
                                          limit: maxFrameBytes, actual: targets.count * frameBytes)
        }
        var pixels = [UInt8]()
        pixels.reserveCapacity(targets.count * frameBytes)
        var taken: [Int] = []
        var next = 0
        try movie.decode { index, rgb in
            while next < targets.count, targets[next] <= index {
                Self.appendPlanar(rgb, width: movie.width, height: movie.height, to: &pixels)
                taken.append(index)
                next += 1
            }
            return next < targets.count
        }
        guard !taken.isEmpty else {
            throw BERGError.unexpectedContent(path: path, message: "no frame could be decoded from this movie")
        }
        let stimulus = try Stimulus(images: pixels, count: taken.count, height: movie.height, width: movie.width,
                                    names: (0..<taken.count).map { String(format: "frame-%04d", $0) })
        return MovieFrames(stimulus: stimulus, times: Array(times.prefix(taken.count)), frameIndices: taken,
                           movieFrameRate: movie.frameRate, movieFrameCount: movie.frameCount)
    }

    /// Whether a path names a movie (by its extension).
    public static func isMovie(_ path: String) -> Bool {
        ["mp4", "m4v", "mov", "avi", "mkv", "webm", "mpg", "mpeg", "wmv", "flv", "ogv"]
            .contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    /// Packed RGB rows → the [3, H, W] planes a `Stimulus` holds.
    static func appendPlanar(_ rgb: UnsafeBufferPointer<UInt8>, width: Int, height: Int, to pixels: inout [UInt8]) {
        let plane = width * height
        let start = pixels.count
        pixels.append(contentsOf: repeatElement(0, count: 3 * plane))
        pixels.withUnsafeMutableBufferPointer { out in
            for p in 0..<plane {
                out[start + p] = rgb[3 * p]
                out[start + plane + p] = rgb[3 * p + 1]
                out[start + 2 * plane + p] = rgb[3 * p + 2]
            }
        }
    }
}

/// An open movie's video stream and its decoder.
final class OpenMovie {
    let path: String
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private let streamIndex: Int32
    private let timeBase: Double
    let frameRate: Double
    let frameCount: Int
    let width: Int
    let height: Int

    init(path: String) throws {
        self.path = path
        func fail(_ what: String, _ code: Int32) -> BERGError {
            var text = [CChar](repeating: 0, count: 256)
            av_strerror(code, &text, text.count)
            let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return BERGError.corruptFile(path: path, offset: nil, message: "\(what): \(message) (FFmpeg could not read it as a movie)")
        }
        var format: UnsafeMutablePointer<AVFormatContext>?
        var status = avformat_open_input(&format, path, nil, nil)
        guard status == 0, let opened = format else { throw fail("cannot open", status) }
        self.format = opened
        status = avformat_find_stream_info(opened, nil)
        guard status >= 0 else { avformat_close_input(&self.format); throw fail("cannot find its streams", status) }
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        guard index >= 0, let decoder, let stream = opened.pointee.streams[Int(index)] else {
            avformat_close_input(&self.format)
            throw BERGError.unexpectedContent(path: path, message: "no video stream that this FFmpeg can decode (FFmpeg error \(index))")
        }
        streamIndex = index
        let parameters = stream.pointee.codecpar.pointee
        width = Int(parameters.width)
        height = Int(parameters.height)
        func seconds(_ q: AVRational) -> Double { q.den == 0 ? 0 : Double(q.num) / Double(q.den) }
        timeBase = seconds(stream.pointee.time_base)
        let average = seconds(stream.pointee.avg_frame_rate)
        frameRate = average > 0 ? average : seconds(stream.pointee.r_frame_rate)
        let duration = stream.pointee.duration != berg_av_nopts_value() ? Double(stream.pointee.duration) * timeBase
            : Double(opened.pointee.duration) / Double(AV_TIME_BASE)
        frameCount = stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : Int((duration * frameRate + 0.5).rounded(.down))
        guard width > 0, height > 0, frameRate > 0, frameCount > 0 else {
            avformat_close_input(&self.format)
            throw BERGError.unexpectedContent(path: path, message: "the video stream says \(width)×\(height) at \(frameRate) fps with \(frameCount) frames")
        }
        guard let context = avcodec_alloc_context3(decoder) else {
            avformat_close_input(&self.format)
            throw BERGError.missingDependency("FFmpeg could not allocate a decoder")
        }
        codec = context
        status = avcodec_parameters_to_context(context, stream.pointee.codecpar)
        if status >= 0 { status = avcodec_open2(context, decoder, nil) }
        guard status >= 0 else { close(); throw fail("cannot start its decoder", status) }
    }

    func close() {
        if codec != nil { avcodec_free_context(&codec) }
        if format != nil { avformat_close_input(&format) }
    }

    /// Decodes the frames in order, handing each one's index (round((timestamp − the first
    /// frame's) × fps)) and its
    /// packed RGB24 pixels to `body` until `body` returns false or the movie ends.
    func decode(_ body: (Int, UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        guard let format, let codec else { return }
        guard let packet = av_packet_alloc(), let frame = av_frame_alloc() else {
            throw BERGError.missingDependency("FFmpeg could not allocate a packet or frame")
        }
        var packetPointer: UnsafeMutablePointer<AVPacket>? = packet, framePointer: UnsafeMutablePointer<AVFrame>? = frame
        defer { av_packet_free(&packetPointer); av_frame_free(&framePointer) }
        var scaler: OpaquePointer?
        defer { if let scaler { sws_freeContext(scaler) } }
        var rgb = [UInt8](repeating: 0, count: 3 * width * height)
        var sequence = 0
        var firstPTS: Int64? = nil

        /// Drains the decoder; false when `body` asked to stop.
        func receive() throws -> Bool {
            while true {
                let status = avcodec_receive_frame(codec, frame)
                if status == berg_averror_again() || status == berg_averror_eof() { return true }
                guard status >= 0 else { throw BERGError.corruptFile(path: path, offset: nil, message: "frame \(sequence) could not be decoded (FFmpeg error \(status))") }
                defer { av_frame_unref(frame) }
                guard Int(frame.pointee.width) == width, Int(frame.pointee.height) == height else {
                    throw BERGError.unexpectedContent(path: path, message: "frame \(sequence) is \(frame.pointee.width)×\(frame.pointee.height), the stream says \(width)×\(height); movies that change size are not supported")
                }
                scaler = sws_getCachedContext(scaler, Int32(width), Int32(height), AVPixelFormat(frame.pointee.format),
                                              Int32(width), Int32(height), AV_PIX_FMT_RGB24, SWS_BICUBIC, nil, nil, nil)
                guard let scaler else { throw BERGError.missingDependency("FFmpeg's swscale cannot convert this movie's pixel format to RGB") }
                berg_sws_use_frame_colorspace(scaler, frame)
                let rows = rgb.withUnsafeMutableBufferPointer { berg_sws_scale_frame(scaler, frame, $0.baseAddress, Int32(3 * width)) }
                guard rows == Int32(height) else { throw BERGError.corruptFile(path: path, offset: nil, message: "frame \(sequence) could not be converted to RGB") }
                // OpenCV numbers frames by their timestamp relative to the first frame's.
                let pts = frame.pointee.best_effort_timestamp
                if firstPTS == nil, pts != berg_av_nopts_value() { firstPTS = pts }
                let index = pts == berg_av_nopts_value() ? sequence : Int(Double(pts - (firstPTS ?? pts)) * timeBase * frameRate + 0.5)
                sequence += 1
                let more = try rgb.withUnsafeBufferPointer { try body(index, $0) }
                if !more { return false }
            }
        }

        while av_read_frame(format, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let status = avcodec_send_packet(codec, packet)
            guard status >= 0 || status == berg_averror_again() else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "a packet of frame \(sequence) could not be decoded (FFmpeg error \(status))")
            }
            if try !receive() { return }
        }
        avcodec_send_packet(codec, nil)  // flush the frames the decoder still holds
        _ = try receive()
    }
}
