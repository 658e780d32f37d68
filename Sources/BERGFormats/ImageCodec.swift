import BERGCore
import CPNG
import CTurboJPEG
import Foundation

/// JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB, and PNG writing.
///
/// Decoding gives what Pillow's `Image.open(path).convert("RGB")` gives:
/// - grayscale is replicated into R, G and B; palette images are expanded;
/// - an alpha channel is dropped, not composited (Pillow drops it);
/// - 16-bit colour or gray+alpha samples keep their high byte (Pillow's `RGB;16B`, `LA;16B`
///   raw modes), while 16-bit plain grayscale is clipped to 255 (Pillow's `I;16` → `RGB`);
/// - JPEGs use the accurate integer IDCT with fancy upsampling, as Pillow's decoder does;
/// - PNG gamma and colour-profile chunks are ignored, as Pillow ignores them.
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

    /// Decodes a JPEG or PNG file to RGB, row-major, 3 bytes per pixel (HWC).
    public static func decode(_ path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BERGError.fileNotFound(path: path, hint: "Check the image path")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw BERGError.corruptFile(path: path, offset: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, path: path)
    }

    /// Decodes JPEG or PNG bytes; `path` names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        switch format(of: data) {
        case .jpeg?: return try decodeJPEG(data, path: path)
        case .png?: return try decodePNG(data, path: path)
        case nil:
            throw BERGError.corruptFile(path: path, offset: 0,
                                        message: "not a JPEG or PNG image (unrecognised first bytes); convert it to PNG or JPEG")
        }
    }

    /// The format the bytes start with, or nil.
    public static func format(of data: Data) -> Format? {
        let head = [UInt8](data.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    static func checkSize(width: Int, height: Int, path: String) throws {
        guard width > 0, height > 0 else {
            throw BERGError.corruptFile(path: path, offset: nil, message: "image has an empty size \(width)×\(height)")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw BERGError.limitExceeded(what: "Image pixel count of \(path)", limit: maxPixels, actual: overflow ? Int.max : pixels)
        }
    }

    // MARK: JPEG

    static func decodeJPEG(_ data: Data, path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
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
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, base, UInt(raw.count), &width, &height, &subsampling, &colorspace) == 0 else {
                throw failure("unreadable JPEG header")
            }
            if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
                throw BERGError.unexpectedContent(path: path, message: "CMYK JPEGs are not supported; save the image as RGB (JPEG or PNG)")
            }
            try checkSize(width: Int(width), height: Int(height), path: path)
            var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, base, UInt(raw.count), out.baseAddress, width, 0, height,
                              Int32(TJPF_RGB.rawValue), TJFLAG_ACCURATEDCT)
            }
            // Warnings (such as a truncated scan) also return -1: Pillow refuses those files too.
            guard status == 0 else { throw failure("corrupt or truncated JPEG") }
            return (pixels, Int(width), Int(height))
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

    static func decodePNG(_ original: Data, path: String) throws -> (pixels: [UInt8], width: Int, height: Int) {
        let data = withoutColourChunks(original)
        var image = newImage()
        defer { png_image_free(&image) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress,
                  png_image_begin_read_from_memory(&image, base, raw.count) != 0 else {
                throw BERGError.corruptFile(path: path, offset: nil, message: "unreadable PNG header: \(message(of: image))")
            }
            let width = Int(image.width), height = Int(image.height)
            try checkSize(width: width, height: height, path: path)
            let fileFormat = image.format
            let isColor = fileFormat & formatColor != 0
            let hasAlpha = fileFormat & formatAlpha != 0
            let count = width * height
            var rgb = [UInt8](repeating: 0, count: count * 3)

            if fileFormat & formatLinear == 0 {
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
                        }
                    }
                }
                return (rgb, width, height)
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
                        for c in 0..<3 {
                            var v = UInt32(src[4 * i + c])
                            if hasAlpha, alpha < 65535 {
                                v = alpha == 0 ? 0 : min(65535, (v * 65535 + alpha / 2) / alpha)
                            }
                            // Pillow keeps the high byte of 16-bit RGB(A) and LA, but clips plain
                            // 16-bit gray ("I;16") to 255 when converting to RGB.
                            dst[3 * i + c] = (isColor || hasAlpha) ? UInt8(v >> 8) : UInt8(min(v, 255))
                        }
                    }
                }
            }
            return (rgb, width, height)
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
