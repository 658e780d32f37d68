import BERGCore
import Foundation

/// Turns what a user points at into a `Stimulus` (uint8 [N, 3, H, W]):
/// - a `.npy` uint8 array shaped [N, 3, H, W] or [N, H, W, 3] (a single image [3, H, W] or
///   [H, W, 3] is taken as N = 1);
/// - one JPEG or PNG file;
/// - a folder of them, in sorted file-name order (other files and hidden files are skipped);
/// - a text file listing image paths, one per line (relative paths are relative to the list
///   file's folder; blank lines and lines starting with `#` are skipped).
public enum StimulusLoader {
    /// The stimulus at `path`; image files are decoded on `threads` threads (all cores when nil).
    public static func load(_ path: String, threads: Int? = nil) throws -> Stimulus {
        try oneSize(loadRuns(path, threads: threads))
    }

    /// Like `load`, but images of different sizes are allowed: they come back as runs of
    /// consecutive same-size images, in input order, for models that resize their input.
    public static func loadRuns(_ path: String, threads: Int? = nil) throws -> [Stimulus] {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BERGError.fileNotFound(path: path, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        if isDirectory.boolValue { return try loadImageRuns(imageFiles(inFolder: path), source: path, threads: threads) }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if ext == "npy" { return [try loadArray(path)] }
        if ImageCodec.imageExtensions.contains(ext) { return try loadImageRuns([path], source: path, threads: threads) }
        // Anything else: an image by content, or a list of paths.
        let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 8)) ?? nil
        if let head, ImageCodec.format(of: head) != nil { return try loadImageRuns([path], source: path, threads: threads) }
        return try loadImageRuns(imageFiles(listedIn: path), source: path, threads: threads)
    }

    /// The image files of a folder, sorted by file name.
    public static func imageFiles(inFolder folder: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw BERGError.fileNotFound(path: folder, hint: "cannot list the folder: \(error.localizedDescription)")
        }
        let images = names.filter {
            !$0.hasPrefix(".") && ImageCodec.imageExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
        }.sorted()
        guard !images.isEmpty else {
            throw BERGError.invalidInput("No images (.jpg, .jpeg, .png) in folder \(folder)")
        }
        return images.map { URL(fileURLWithPath: folder).appendingPathComponent($0).path }
    }

    /// The paths listed in a text file, one per line, resolved against the file's folder.
    public static func imageFiles(listedIn listFile: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: listFile) else {
            throw BERGError.fileNotFound(path: listFile, hint: nil)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BERGError.invalidInput("\(listFile) is neither an image, a .npy array nor a UTF-8 text file listing image paths")
        }
        let folder = URL(fileURLWithPath: listFile).deletingLastPathComponent()
        let paths = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { $0.hasPrefix("/") ? $0 : folder.appendingPathComponent($0).standardizedFileURL.path }
        guard !paths.isEmpty else { throw BERGError.invalidInput("The image list \(listFile) names no files") }
        return paths
    }

    /// Decodes image files into one batch; their sizes must agree.
    public static func loadImages(_ paths: [String], source: String, threads: Int? = nil) throws -> Stimulus {
        try oneSize(loadImageRuns(paths, source: source,
                                  threads: threads ?? ProcessInfo.processInfo.activeProcessorCount))
    }

    /// The one run of same-size images, or an error naming the first two files that differ.
    private static func oneSize(_ runs: [Stimulus]) throws -> Stimulus {
        if runs.count > 1 {
            let a = runs[0], b = runs[1]
            throw BERGError.invalidInput(
                "Images differ in size: \(a.names[0]) is \(a.width)×\(a.height) but \(b.names[0]) is \(b.width)×\(b.height). "
                + "Resize them to one size first, or use a model that resizes its input")
        }
        return runs[0]
    }

    /// Decodes image files into runs of consecutive same-size images (one run when all agree).
    /// Files are decoded a few per thread at a time, in parallel, and appended in order, so
    /// that memory stays near the stimulus itself.
    static func loadImageRuns(_ paths: [String], source: String, threads: Int) throws -> [Stimulus] {
        guard !paths.isEmpty else { throw BERGError.invalidInput("No images in \(source)") }
        var runs: [Stimulus] = []
        var pixels: [UInt8] = []
        var names: [String] = []
        var size: (width: Int, height: Int)? = nil
        let stimulusNames = Dictionary(zip(paths, StimulusLoader.names(of: paths)), uniquingKeysWith: { first, _ in first })
        func closeRun() throws {
            guard let size, !names.isEmpty else { return }
            runs.append(try Stimulus(images: pixels, count: names.count, height: size.height, width: size.width, names: names))
            pixels = []; names = []
        }
        let block = max(1, threads) * 4
        for blockStart in stride(from: 0, to: paths.count, by: block) {
            let decoded = try concurrentMap(Array(paths[blockStart ..< min(blockStart + block, paths.count)]), threads: threads) {
                try decodeCHW($0)
            }
            for image in decoded {
                if let current = size, current != (image.width, image.height) { try closeRun() }
                if names.isEmpty {
                    size = (image.width, image.height)
                    pixels.reserveCapacity((paths.count - runs.reduce(0) { $0 + $1.count }) * image.width * image.height * 3)
                }
                pixels.append(contentsOf: image.chw)
                names.append(stimulusNames[image.path] ?? fileName(image.path))
            }
        }
        try closeRun()
        return runs
    }

    /// One image file as CHW planes.
    private static func decodeCHW(_ path: String) throws -> (path: String, chw: [UInt8], width: Int, height: Int) {
        let (hwc, width, height) = try ImageCodec.decode(path)
        var chw: [UInt8] = []
        appendCHW(hwc, width: width, height: height, to: &chw)
        return (path, chw, width, height)
    }

    /// Appends an HWC image as CHW planes.
    static func appendCHW(_ hwc: [UInt8], width: Int, height: Int, to pixels: inout [UInt8]) {
        let plane = width * height
        let start = pixels.count
        pixels.append(contentsOf: [UInt8](repeating: 0, count: 3 * plane))
        pixels.withUnsafeMutableBufferPointer { dst in
            hwc.withUnsafeBufferPointer { src in
                guard let out = dst.baseAddress, let input = src.baseAddress, src.count >= 3 * plane else { return }
                let red = out + start, green = red + plane, blue = green + plane
                var p = input
                for i in 0..<plane {
                    red[i] = p[0]; green[i] = p[1]; blue[i] = p[2]
                    p += 3
                }
            }
        }
    }

    /// A uint8 `.npy` array [N,3,H,W] or [N,H,W,3] (or one image without N).
    static func loadArray(_ path: String) throws -> Stimulus {
        let tensor = try NPYFile.read(path)
        guard case .uint8(let bytes) = tensor.storage else {
            throw BERGError.unexpectedContent(path: path, message: "stimulus arrays must be uint8 (0–255), got \(tensor.dtype.rawValue); convert with `(x * 255).round().astype(np.uint8)` or `x.astype(np.uint8)`")
        }
        var shape = tensor.shape
        if shape.count == 3 { shape.insert(1, at: 0) }
        guard shape.count == 4 else {
            throw BERGError.unexpectedContent(path: path, message: "stimulus arrays must be [N,3,H,W] or [N,H,W,3], got shape \(tensor.shape)")
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let names = (0..<shape[0]).map { "\(name)[\($0)]" }
        if shape[1] == 3 {
            return try Stimulus(images: bytes, count: shape[0], height: shape[2], width: shape[3], names: names)
        }
        guard shape[3] == 3 else {
            throw BERGError.unexpectedContent(path: path, message: "stimulus arrays must have 3 colour channels, [N,3,H,W] or [N,H,W,3]; got shape \(tensor.shape)")
        }
        let (n, h, w) = (shape[0], shape[1], shape[2])
        var pixels: [UInt8] = []
        pixels.reserveCapacity(bytes.count)
        let imageSize = h * w * 3
        for i in 0..<n {
            appendCHW(Array(bytes[i * imageSize ..< (i + 1) * imageSize]), width: w, height: h, to: &pixels)
        }
        return try Stimulus(images: pixels, count: n, height: h, width: w, names: names)
    }

    static func fileName(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

    /// A name per file: its file name, or, when two files share one (a list naming `A/x.jpg`
    /// and `B/x.jpg`), each path relative to the folder all of them share.
    static func names(of paths: [String]) -> [String] {
        let fileNames = paths.map(fileName)
        if Set(fileNames).count == fileNames.count { return fileNames }
        let folders = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.deletingLastPathComponent().pathComponents }
        guard var common = folders.first else { return [] }
        for folder in folders.dropFirst() {
            common = Array(zip(common, folder).prefix { $0 == $1 }.map(\.0))
        }
        return paths.map { path in
            let parts = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
            return parts.dropFirst(common.count).joined(separator: "/")
        }
    }
}
