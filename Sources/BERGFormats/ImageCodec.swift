import BERGCore
import CPNG
import CTurboJPEG
import Foundation

/// JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB, and PNG writing.
///
/// Decoding gives what Pillow's `Image.open(path).convert("RGB")` gives, with one exception:
/// - grayscale is replicated into R, G and B; palette images are expanded;
/// - an alpha channel is dropped, not composited (Pillow drops it): the pixels keep their
///   stored colour, and `DecodedImage.notes` says how many were not opaque, so that a caller
///   can warn (a model sees what is under the transparency, which may not be what was meant);
/// - every 16-bit sample becomes its high byte (`v >> 8`, libpng's `png_set_strip_16`), as
///   Pillow does for 16-bit colour and gray+alpha. The exception: Pillow clips plain 16-bit
///   grayscale (`I;16`) to 255, which turns almost every pixel of a real 16-bit image white;
///   here it is scaled like the colour samples, so a 16-bit gray image decodes as the same
///   image saved as 16-bit RGB does in Pillow;
/// - JPEGs use the accurate integer IDCT with fancy upsampling, as Pillow's decoder does;
/// - PNG gamma and colour-profile chunks are ignored, as Pillow ignores them.
///
/// Other image formats (GIF, BMP, WebP, TIFF, ...) are recognised by their first bytes and
/// refused with a message that names them. `header(of:path:)` reads only an image's header.
///
/// libpng is driven through its simplified `png_image` API, which reports errors by return
/// value (no `setjmp` crosses Swift frames), and turbojpeg returns error codes, so a corrupt or
/// truncated file is a `BERGError`, never a crash.
public enum ImageCodec {
    /// The image formats this codec reads, by content (magic bytes), not by file name.
    public enum Format: String, Sendable {
        case jpeg, png
    }

    /// The file-name extensions recognised as images when scanning folders.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Pillow's decompression-bomb limit (twice `Image.MAX_IMAGE_PIXELS`): larger images are refused.
    public static let maxPixels = 178_956_970

    /// A decoded image: RGB, row-major, 3 bytes per pixel (HWC), and notes on what decoding
    /// changed or dropped (such as transparency), one line each.
    public struct DecodedImage: Sendable {
        public var pixels: [UInt8]
        public var width: Int
        public var height: Int
        public var notes: [String]
    }

    /// Decodes a JPEG or PNG file to RGB, row-major, 3 bytes per pixel (HWC).
    public static func decode(_ path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let image = try decodeImage(path)
        return (image.pixels, image.width, image.height)
    }

    /// Decodes JPEG or PNG bytes; `path` names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let image = try decodeImage(data, path: path)
        return (image.pixels, image.width, image.height)
    }

    /// Decodes a JPEG or PNG file, with notes.
    public static func decodeImage(_ path: String) throws -> DecodedImage {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BERGError.fileNotFound(path: path, hint: "Check the image path")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try decodeImage(data, path: path)
    }

    /// Decodes JPEG or PNG bytes, with notes; `path` names the source in errors and notes.
    public static func decodeImage(_ data: Data, path: String) throws -> DecodedImage {
        switch try supportedFormat(of: data, path: path) {
        case .jpeg: return try decodeJPEG(data, path: path)
        case .png: return try decodePNG(data, path: path)
        }
    }

    /// The format the bytes start with, or nil.
    public static func format(of data: Data) -> Format? {
        let head = [UInt8](data.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    /// The name of an image format this codec does not read, recognised by its first bytes
    /// (GIF, BMP, WebP, TIFF, JPEG 2000, HEIF/AVIF, ...), or nil.
    public static func unsupportedFormat(of data: Data) -> String? {
        let head = [UInt8](data.prefix(32))
        func starts(_ bytes: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + bytes.count && Array(head[offset ..< offset + bytes.count]) == bytes
        }
        func ascii(_ text: String, at offset: Int = 0) -> Bool { starts(Array(text.utf8), at: offset) }
        if ascii("GIF87a") || ascii("GIF89a") { return "GIF" }
        // "BM", then a DIB header size the format defines (so that a list file naming
        // "BMW/car.jpg" first is not taken for one).
        if ascii("BM"), head.count >= 18, [12, 40, 52, 56, 64, 108, 124].contains(Int(head[14]) | Int(head[15]) << 8),
           head[16] == 0, head[17] == 0 { return "BMP" }
        if ascii("RIFF"), ascii("WEBP", at: 8) { return "WebP" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return "BigTIFF" }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return "JPEG 2000" }
        if ascii("ftyp", at: 4) {
            for (brand, name) in [("avif", "AVIF"), ("heic", "HEIF"), ("heix", "HEIF"), ("mif1", "HEIF")] where ascii(brand, at: 8) {
                return name
            }
        }
        if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return "JPEG XL" }
        if ascii("8BPS") { return "Photoshop (PSD)" }
        if starts([0x00, 0x00, 0x01, 0x00]) { return "ICO" }
        return nil
    }

    /// The format of `data`, or an error: an image format this codec does not read is named
    /// ("GIF is not supported; JPEG and PNG are"), anything else is "not a JPEG or PNG image".
    public static func supportedFormat(of data: Data, path: String) throws -> Format {
        if let format = format(of: data) { return format }
        if let other = unsupportedFormat(of: data) {
            throw BERGError.unsupported("\(path): \(other) is not supported; JPEG and PNG are. Convert it to PNG or JPEG first (for example `convert FILE out.png` with ImageMagick)")
        }
        throw BERGError.corruptFile(path: path, offset: 0,
                                    message: "not a JPEG or PNG image (unrecognised first bytes); convert it to PNG or JPEG")
    }

    /// An image's size is positive, within Pillow's pixel limit, and its decoding buffers
    /// (`bytesPerPixel` each, the RGB output included) fit `ReadLimits.maxBytes`.
    static func checkSize(width: Int, height: Int, path: String, bytesPerPixel: Int = 7) throws {
        guard width > 0, height > 0 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "image has an empty size \(width)×\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw BERGError.limitExceeded(what: "Image pixel count of \(path)", limit: maxPixels, actual: overflow ? Int.max : pixels)
        }
        try ReadLimits.check(pixels * bytesPerPixel, of: "Memory to decode \(path) (\(width)×\(height) pixels) in bytes")
    }

    // MARK: Headers

    /// What an image's header says, read without decoding its pixels.
    public struct Header: Sendable, Equatable {
        public var format: Format
        public var width: Int
        public var height: Int
        /// Bits per sample (PNG: 1, 2, 4, 8 or 16; JPEG: 8).
        public var bitDepth: Int
        /// "RGB", "gray", "palette", "gray+alpha", "RGBA", "CMYK", ...
        public var colour: String
        /// An alpha channel or a tRNS (transparency) chunk.
        public var hasAlpha: Bool
        public var interlaced: Bool
        /// PNG: the bytes of compressed image data (the IDAT chunks) the file holds.
        public var compressedBytes: Int?

        /// PNG: the fewest bytes the image data inflates to (one filter byte per row, no interlacing).
        var inflatedBytes: Int? {
            guard format == .png else { return nil }
            let channels = ["gray": 1, "RGB": 3, "palette": 1, "gray+alpha": 2, "RGBA": 4][colour] ?? 1
            let (bits, overflow) = width.multipliedReportingOverflow(by: channels * bitDepth)
            return overflow ? Int.max : height.multipliedReportingOverflow(by: 1 + (bits + 7) / 8).partialValue
        }
    }

    /// The header of a JPEG or PNG: size, bit depth and colour type, without decoding pixels.
    public static func header(of data: Data, path: String) throws -> Header {
        switch try supportedFormat(of: data, path: path) {
        case .png: return try pngHeader(data, path: path)
        case .jpeg: return try jpegHeader(data, path: path)
        }
    }

    static func pngHeader(_ data: Data, path: String) throws -> Header {
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(data[data.startIndex + at + $1]) } }
        guard data.count >= 33, u32(8) == 13, String(decoding: data[data.startIndex + 12 ..< data.startIndex + 16], as: UTF8.self) == "IHDR" else {
            throw BERGError.corruptFile(path: path, offset: 8, message: "PNG without an IHDR header chunk")
        }
        let width = u32(16), height = u32(20)
        let depth = Int(data[data.startIndex + 24]), type = Int(data[data.startIndex + 25])
        let interlaced = data[data.startIndex + 28] != 0
        let colours = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"]
        guard let colour = colours[type], [1, 2, 4, 8, 16].contains(depth), width > 0, height > 0,
              width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw BERGError.corruptFile(path: path, offset: 16, message: "PNG header is invalid (\(width)×\(height), bit depth \(depth), colour type \(type))")
        }
        // A tRNS chunk also makes pixels transparent; the IDAT chunks hold the image data.
        var transparency = false
        var compressed = 0
        var offset = 33
        while offset + 8 <= data.count {
            let length = u32(offset)
            let kind = String(decoding: data[data.startIndex + offset + 4 ..< data.startIndex + offset + 8], as: UTF8.self)
            if kind == "tRNS" { transparency = true }
            if kind == "IDAT" { compressed += min(length, data.count - offset - 8) }
            if kind == "IEND" || length > data.count { break }
            offset += 12 + length
        }
        return Header(format: .png, width: width, height: height, bitDepth: depth, colour: colour,
                      hasAlpha: type == 4 || type == 6 || transparency, interlaced: interlaced, compressedBytes: compressed)
    }

    static func jpegHeader(_ data: Data, path: String) throws -> Header {
        try withJPEGDecompressor(data, path: path) { handle, base, count, failure in
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, base, UInt(count), &width, &height, &subsampling, &colorspace) == 0 else {
                throw failure("unreadable JPEG header")
            }
            let names = [TJCS_RGB.rawValue: "RGB", TJCS_YCbCr.rawValue: "YCbCr", TJCS_GRAY.rawValue: "gray",
                         TJCS_CMYK.rawValue: "CMYK", TJCS_YCCK.rawValue: "YCCK"]
            return Header(format: .jpeg, width: Int(width), height: Int(height), bitDepth: 8,
                          colour: names[UInt32(bitPattern: colorspace)] ?? "colour space \(colorspace)", hasAlpha: false,
                          interlaced: false, compressedBytes: nil)
        }
    }

    // MARK: JPEG

    /// Runs `body` with a turbojpeg decompressor over the bytes; `failure` makes an error with
    /// turbojpeg's own message.
    private static func withJPEGDecompressor<T>(
        _ data: Data, path: String,
        _ body: (tjhandle, UnsafePointer<UInt8>, Int, (String) -> BERGError) throws -> T
    ) throws -> T {
        guard let handle = tjInitDecompress() else {
            throw BERGError.missingDependency("libturbojpeg could not start a decompressor")
        }
        defer { tjDestroy(handle) }
        func failure(_ what: String) -> BERGError {
            let detail = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            return BERGError.corruptFile(path: path, offset: nil, message: "\(what): \(detail)")
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else {
                throw BERGError.corruptFile(path: path, offset: 0, message: "empty JPEG file")
            }
            return try body(handle, base, raw.count, failure)
        }
    }

    static func decodeJPEG(_ data: Data, path: String) throws -> DecodedImage {
        let header = try jpegHeader(data, path: path)
        if header.colour == "CMYK" || header.colour == "YCCK" {
            throw BERGError.unexpectedContent(path: path, message: "CMYK JPEGs are not supported; save the image as RGB (JPEG or PNG)")
        }
        try checkSize(width: header.width, height: header.height, path: path, bytesPerPixel: 3)
        return try withJPEGDecompressor(data, path: path) { handle, base, count, failure in
            var pixels = [UInt8](repeating: 0, count: header.width * header.height * 3)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, base, UInt(count), out.baseAddress, Int32(header.width), 0, Int32(header.height),
                              Int32(TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT)
            }
            // Warnings (such as a truncated scan) also return -1: Pillow refuses those files too.
            guard status == 0 else { throw failure("corrupt or truncated JPEG") }
            return DecodedImage(pixels: pixels, width: header.width, height: header.height, notes: [])
        }
    }

    // MARK: PNG

    private static let formatAlpha: UInt32 = 0x01
    private static let formatColor: UInt32 = 0x02
    private static let formatLinear: UInt32 = 0x04

    private static func newImage() -> png_image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        return image
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self).prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The PNG bytes without the colour-management chunks (gAMA, cHRM, sRGB, iCCP). libpng's
    /// simplified API would convert the samples by them; Pillow ignores them, and so do we.
    /// A chunk that runs past the end is left in place for libpng to report.
    static func withoutColourChunks(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        let skipped: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
        var out = Data(bytes.prefix(8))
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let end = offset + 12 + length
            guard end <= bytes.count else { break }
            let type = String(decoding: bytes[offset + 4 ..< offset + 8], as: UTF8.self)
            if !skipped.contains(type) { out.append(contentsOf: bytes[offset..<end]) }
            offset = end
        }
        out.append(contentsOf: bytes[offset...])
        return out
    }

    /// The note for an image whose alpha was dropped, when some pixels were not opaque.
    static func alphaNote(path: String, translucent: Int, count: Int) -> [String] {
        guard translucent > 0 else { return [] }
        let share = String(format: "%.1f", 100 * Double(translucent) / Double(count))
        return ["\(path): \(translucent) of \(count) pixels (\(share) %) are transparent or translucent; the alpha channel was dropped (as Pillow's convert(\"RGB\") does), so the model sees the colours stored under it. Flatten the image onto the background you want first"]
    }

    static func decodePNG(_ original: Data, path: String) throws -> DecodedImage {
        // The image data cannot inflate more than deflate allows: refuse before allocating.
        let header = try pngHeader(original, path: path)
        if let inflated = header.inflatedBytes, let compressed = header.compressedBytes {
            try ReadLimits.checkInflation(declared: inflated, compressed: compressed,
                                          of: "PNG image data (\(header.width)×\(header.height), \(header.bitDepth)-bit \(header.colour))", path: path)
        }
        let data = withoutColourChunks(original)
        var image = newImage()
        defer { png_image_free(&image) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress,
                  png_image_begin_read_from_memory(&image, base, raw.count) != 0 else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "unreadable PNG header: \(message(of: image))")
            }
            let width = Int(image.width), height = Int(image.height)
            let fileFormat = image.format
            let sixteenBit = fileFormat & formatLinear != 0
            try checkSize(width: width, height: height, path: path, bytesPerPixel: sixteenBit ? 11 : 7)
            let hasAlpha = fileFormat & formatAlpha != 0
            let count = width * height
            var rgb = [UInt8](repeating: 0, count: count * 3)
            var translucent = 0

            if !sixteenBit {
                // 8-bit (or fewer bits, or palette): read as 8-bit RGBA and drop alpha.
                image.format = formatColor | formatAlpha
                var rgba = [UInt8](repeating: 0, count: count * 4)
                let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
                guard ok != 0 else {
                    throw BERGError.corruptFile(path: path, offset: nil, message: "corrupt or truncated PNG: \(message(of: image))")
                }
                rgba.withUnsafeBufferPointer { src in
                    rgb.withUnsafeMutableBufferPointer { dst in
                        for i in 0..<count {
                            dst[3 * i] = src[4 * i]; dst[3 * i + 1] = src[4 * i + 1]; dst[3 * i + 2] = src[4 * i + 2]
                            if src[4 * i + 3] != 255 { translucent += 1 }
                        }
                    }
                }
                return DecodedImage(pixels: rgb, width: width, height: height,
                                    notes: alphaNote(path: path, translucent: translucent, count: count))
            }

            // 16-bit: a linear output format makes libpng assume linear input, so the samples come
            // back unchanged, but premultiplied by alpha where there is one. Undoing that is exact
            // for opaque pixels; under partial alpha a few samples may differ from Pillow's by
            // rounding, and fully transparent pixels come out black (Pillow keeps their colour).
            // 16-bit PNGs with transparency are rare as stimuli; the simplified API offers no
            // unassociated 16-bit output, and the low-level one needs setjmp.
            image.format = formatLinear | formatColor | formatAlpha
            var rgba = [UInt16](repeating: 0, count: count * 4)
            let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "corrupt or truncated PNG: \(message(of: image))")
            }
            rgba.withUnsafeBufferPointer { src in
                rgb.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<count {
                        let alpha = UInt32(src[4 * i + 3])
                        if alpha < 65535 { translucent += 1 }
                        for c in 0..<3 {
                            var v = UInt32(src[4 * i + c])
                            if hasAlpha, alpha < 65535 {
                                v = alpha == 0 ? 0 : min(65535, (v * 65535 + alpha / 2) / alpha)
                            }
                            // The high byte, for colour and gray alike (see the type's comment).
                            dst[3 * i + c] = UInt8(v >> 8)
                        }
                    }
                }
            }
            return DecodedImage(pixels: rgb, width: width, height: height,
                                notes: alphaNote(path: path, translucent: translucent, count: count))
        }
    }

    /// Writes an 8-bit RGB image (HWC, row-major) as PNG through a temporary file.
    public static func writePNG(rgb: [UInt8], width: Int, height: Int, to path: String) throws {
        try writePNG(samples: rgb, channels: 3, width: width, height: height, to: path)
    }

    /// Writes an 8-bit grayscale image (row-major) as PNG through a temporary file.
    public static func writeGrayPNG(_ gray: [UInt8], width: Int, height: Int, to path: String) throws {
        try writePNG(samples: gray, channels: 1, width: width, height: height, to: path)
    }

    static func writePNG(samples: [UInt8], channels: Int, width: Int, height: Int, to path: String) throws {
        guard width > 0, height > 0, width <= Int(Int32.max) / 4, height <= Int(Int32.max) / 4,
              samples.count == width * height * channels else {
            throw BERGError.shapeMismatch(what: "PNG pixels for \(path) [H,W,\(channels)]",
                                          expected: [height, width, channels], actual: [samples.count])
        }
        var image = newImage()
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = channels == 3 ? formatColor : 0
        defer { png_image_free(&image) }
        var size = 0
        let stride = Int32(width * channels)
        let sized = samples.withUnsafeBytes {
            png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else {
            throw BERGError.writeFailed(path: path, message: "PNG encoding failed: \(message(of: image))")
        }
        var encoded = Data(count: size)
        let written = encoded.withUnsafeMutableBytes { out in
            samples.withUnsafeBytes {
                png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil)
            }
        }
        guard written != 0 else {
            throw BERGError.writeFailed(path: path, message: "PNG encoding failed: \(message(of: image))")
        }
        try AtomicFile.write(encoded.prefix(size), to: path)
    }
}
