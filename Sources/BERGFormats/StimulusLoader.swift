import BERGCore
import Foundation

/// Turns what a user points at into stimuli (uint8 [N, 3, H, W]), read a batch at a time:
/// - a `.npy` uint8 array shaped [N, 3, H, W] or [N, H, W, 3] (a single image [3, H, W] or
///   [H, W, 3] is taken as N = 1), memory-mapped;
/// - one JPEG or PNG file;
/// - a folder of them, in sorted file-name order (hidden files are skipped; other files are
///   listed in a warning; images in formats this build cannot read are an error, or skipped
///   with `skipUnreadable`);
/// - a text file listing image paths, one per line (relative paths are relative to the list
///   file's folder; blank lines and lines starting with `#` are skipped).
/// Only regular files and folders are read: a pipe or a device is refused, so that nothing hangs.
public enum StimulusLoader {
    /// Image formats people have that this build cannot decode; a folder holding them is an
    /// error unless they are skipped on purpose.
    static let unsupportedImageExtensions: Set<String> = ["gif", "bmp", "webp", "tif", "tiff", "heic", "heif", "jp2", "avif", "ppm", "pgm"]

    /// A source reading `path` a batch at a time. With `skipUnreadable`, image files that
    /// cannot be read are skipped (their responses are NaN) instead of ending the run; what was
    /// passed over is in the source's `warnings`.
    public static func source(_ path: String, skipUnreadable: Bool = false, threads: Int? = nil) throws -> any WarningStimulusSource {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        switch try FileKind(path) {
        case .missing:
            throw BERGError.fileNotFound(path: path, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        case .other:
            throw BERGError.invalidInput("\(path) is not a regular file or folder (a pipe, socket or device); give an image, a folder of images, a .npy array or a text file listing images")
        case .folder:
            let (files, warnings) = try imageFiles(inFolder: path, skipUnreadable: skipUnreadable)
            return ImageFileSource(paths: files, skipUnreadable: skipUnreadable, threads: threads, warnings: warnings)
        case .file:
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            if ext == "npy" { return try NPYStimulusSource(path: path) }
            if ImageCodec.imageExtensions.contains(ext) {
                return ImageFileSource(paths: [path], skipUnreadable: false, threads: threads, warnings: [])
            }
            if unsupportedImageExtensions.contains(ext) { throw unsupported([path]) }
            // Anything else: an image by content (other image formats are refused by name), or a
            // list of paths.
            let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 32)) ?? nil
            if let head, ImageCodec.unsupportedFormat(of: head) != nil { _ = try ImageCodec.supportedFormat(of: head, path: path) }
            if let head, ImageCodec.format(of: head) != nil {
                return ImageFileSource(paths: [path], skipUnreadable: false, threads: threads, warnings: [])
            }
            let (files, warnings) = try imageFiles(listedIn: path, skipUnreadable: skipUnreadable)
            return ImageFileSource(paths: files, skipUnreadable: skipUnreadable, threads: threads, warnings: warnings)
        }
    }

    /// All the stimulus at `path`, as one stimulus; its images must have one size.
    public static func load(_ path: String, threads: Int? = nil) throws -> Stimulus {
        let runs = try loadRuns(path, threads: threads)
        if runs.count > 1 {
            let a = runs[0], b = runs[1]
            throw BERGError.invalidInput(
                "Images differ in size: \(a.names[0]) is \(a.width)×\(a.height) but \(b.names[0]) is \(b.width)×\(b.height). "
                + "Resize them to one size first, or use a model that resizes its input")
        }
        return runs[0]
    }

    /// All the stimuli at `path`, as runs of consecutive same-size images, in input order.
    public static func loadRuns(_ path: String, threads: Int? = nil) throws -> [Stimulus] {
        let source = try self.source(path, threads: threads)
        return try source.load(0..<source.count).compactMap { run in
            if case .images(let stimulus) = run { return stimulus }
            return nil
        }
    }

    /// The image files of a folder, sorted by file name, and warnings about what was left out.
    public static func imageFiles(inFolder folder: String, skipUnreadable: Bool = false) throws -> (files: [String], warnings: [String]) {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw BERGError.fileNotFound(path: folder, hint: "cannot list the folder: \(error.localizedDescription)")
        }
        var images: [String] = [], unsupported: [String] = [], others: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = URL(fileURLWithPath: folder).appendingPathComponent(name).path
            let ext = URL(fileURLWithPath: name).pathExtension.lowercased()
            if ImageCodec.imageExtensions.contains(ext), (try? FileKind(path)) == .file { images.append(path) }
            else if unsupportedImageExtensions.contains(ext) { unsupported.append(path) }
            else { others.append(name) }
        }
        var warnings: [String] = []
        if !unsupported.isEmpty {
            guard skipUnreadable else { throw self.unsupported(unsupported) }
            warnings.append("skipped \(unsupported.count) image(s) in formats this build cannot read (JPEG and PNG are): \(list(unsupported.map(fileName)))")
        }
        if !others.isEmpty {
            warnings.append("ignored \(others.count) entr\(others.count == 1 ? "y" : "ies") of \(folder) that are not JPEG or PNG files: \(list(others))")
        }
        guard !images.isEmpty else {
            throw BERGError.invalidInput("No images (.jpg, .jpeg, .png) in folder \(folder)")
        }
        return (images, warnings)
    }

    /// The paths listed in a text file, one per line, resolved against the file's folder.
    public static func imageFiles(listedIn listFile: String, skipUnreadable: Bool = false) throws -> (files: [String], warnings: [String]) {
        guard let data = FileManager.default.contents(atPath: listFile) else {
            throw BERGError.fileNotFound(path: listFile, hint: nil)
        }
        guard let text = String(data: data, encoding: .utf8), !data.contains(0) else {
            throw BERGError.invalidInput("\(listFile) is not an image this build reads (JPEG, PNG), a .npy array, nor a UTF-8 text file listing image paths")
        }
        let folder = URL(fileURLWithPath: listFile).deletingLastPathComponent()
        let paths = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { $0.hasPrefix("/") ? $0 : folder.appendingPathComponent($0).standardizedFileURL.path }
        guard !paths.isEmpty else { throw BERGError.invalidInput("The image list \(listFile) names no files") }
        let unsupported = paths.filter { unsupportedImageExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        if !unsupported.isEmpty, !skipUnreadable { throw self.unsupported(unsupported) }
        return (paths, unsupported.isEmpty ? [] : ["skipped \(unsupported.count) listed image(s) in formats this build cannot read (JPEG and PNG are): \(list(unsupported.map(fileName)))"])
    }

    static func unsupported(_ paths: [String]) -> BERGError {
        // Named by content where the first bytes say (a .tif is TIFF), else by extension.
        let formats = Set(paths.map { path in
            let head = try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 32)
            return head.flatMap { ImageCodec.unsupportedFormat(of: $0) } ?? URL(fileURLWithPath: path).pathExtension.uppercased()
        }).sorted().joined(separator: ", ")
        return .invalidInput("\(formats) is not supported; JPEG and PNG are: \(list(paths.map(fileName))). Convert them, or skip them on purpose with --skip-unreadable")
    }

    /// At most five names, then how many more.
    static func list(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
    }

    /// Appends an HWC image as CHW planes.
    static func appendCHW<C: Collection>(_ hwc: C, width: Int, height: Int, to pixels: inout [UInt8]) where C.Element == UInt8, C.Index == Int {
        let plane = width * height
        let start = pixels.count
        pixels.append(contentsOf: repeatElement(0, count: 3 * plane))
        pixels.withUnsafeMutableBufferPointer { dst in
            guard let out = dst.baseAddress, hwc.count >= 3 * plane else { return }
            let red = out + start, green = red + plane, blue = green + plane
            var p = hwc.startIndex
            for i in 0..<plane {
                red[i] = hwc[p]; green[i] = hwc[p + 1]; blue[i] = hwc[p + 2]
                p += 3
            }
        }
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
            URL(fileURLWithPath: path).standardizedFileURL.pathComponents.dropFirst(common.count).joined(separator: "/")
        }
    }
}

/// A stimulus source that may have something to say about its input (files passed over).
public protocol WarningStimulusSource: StimulusSource {
    var warnings: [String] { get }
}

/// What a path is, by `stat`: regular files and folders are read, anything else refused.
enum FileKind: Equatable {
    case missing, file, folder, other

    init(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { self = .missing; return }
        switch info.st_mode & S_IFMT {
        case S_IFREG: self = .file
        case S_IFDIR: self = .folder
        default: self = .other
        }
    }
}

/// Image files decoded a batch at a time, on several threads, in order.
public struct ImageFileSource: WarningStimulusSource {
    public let paths: [String]
    public let names: [String]
    public let skipUnreadable: Bool
    public let threads: Int
    public let warnings: [String]

    public init(paths: [String], skipUnreadable: Bool, threads: Int, warnings: [String]) {
        self.paths = paths
        self.names = StimulusLoader.names(of: paths)
        self.skipUnreadable = skipUnreadable
        self.threads = max(1, threads)
        self.warnings = warnings
    }

    public var count: Int { paths.count }

    public func load(_ range: Range<Int>) throws -> [StimulusRun] {
        let decoded = try concurrentMap(Array(range), threads: threads) { index -> Result<(chw: [UInt8], width: Int, height: Int, notes: [String]), BERGError> in
            let path = paths[index]
            do {
                switch try FileKind(path) {
                case .file: break
                case .missing: throw BERGError.fileNotFound(path: path, hint: nil)
                case .folder, .other: throw BERGError.invalidInput("\(path) is not a regular file")
                }
                let image = try ImageCodec.decodeImage(path)
                var chw: [UInt8] = []
                StimulusLoader.appendCHW(image.pixels, width: image.width, height: image.height, to: &chw)
                return .success((chw, image.width, image.height, image.notes))
            } catch let error as BERGError {
                guard skipUnreadable else { throw error }
                return .failure(error)
            }
        }
        // Consecutive images of one size make a run; unreadable files make runs of their own.
        var runs: [StimulusRun] = []
        var pixels: [UInt8] = [], runNames: [String] = [], notes: [String] = [], size: (width: Int, height: Int)? = nil
        var badNames: [String] = [], reasons: [String] = []
        func closeImages() throws {
            guard let size, !runNames.isEmpty else { return }
            var stimulus = try Stimulus(images: pixels, count: runNames.count, height: size.height, width: size.width, names: runNames)
            stimulus.warnings = notes
            runs.append(.images(stimulus))
            pixels = []; runNames = []; notes = []
        }
        func closeUnreadable() {
            guard !badNames.isEmpty else { return }
            runs.append(.unreadable(names: badNames, reasons: reasons))
            badNames = []; reasons = []
        }
        for (index, outcome) in zip(range, decoded) {
            switch outcome {
            case .success(let image):
                closeUnreadable()
                if let current = size, current != (image.width, image.height) { try closeImages() }
                if runNames.isEmpty { size = (image.width, image.height) }
                pixels.append(contentsOf: image.chw)
                runNames.append(names[index])
                notes += image.notes
            case .failure(let error):
                try closeImages()
                badNames.append(names[index])
                reasons.append(error.message)
            }
        }
        try closeImages()
        closeUnreadable()
        return runs
    }
}

/// A uint8 `.npy` array [N, 3, H, W] or [N, H, W, 3] (or one image without N), mapped, not read
/// whole: each batch copies only its images.
public struct NPYStimulusSource: WarningStimulusSource {
    public let path: String
    public let count: Int
    public let height: Int
    public let width: Int
    /// [N, H, W, 3] rather than [N, 3, H, W].
    public let channelsLast: Bool
    public var warnings: [String] { [] }
    private let data: UncheckedSendable<Data>
    private let offset: Int

    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) }
        catch { throw BERGError.corruptFile(path: path, offset: nil, message: "cannot read: \(error.localizedDescription)") }
        let header = try NPYFile.parseHeader(data, path: path)
        guard header.descr == "|u1" || header.descr == "<u1" || header.descr == ">u1" else {
            let got = header.holdsObjects ? "pickled Python objects (dtype '|O'), not an array of pixels" : "dtype '\(header.descr)'"
            throw BERGError.unexpectedContent(path: path, message: "stimulus arrays must be uint8 (0–255), got \(got); convert with `(x * 255).round().astype(np.uint8)` or `x.astype(np.uint8)`")
        }
        guard !header.fortranOrder else {
            throw BERGError.unexpectedContent(path: path, message: "a Fortran-order array; save it in C order (np.ascontiguousarray)")
        }
        var shape = header.shape
        if shape.count == 3 { shape.insert(1, at: 0) }
        guard shape.count == 4, shape[1] == 3 || shape[3] == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw BERGError.unexpectedContent(path: path, message: "stimulus arrays must be [N,3,H,W] or [N,H,W,3] with 3 colour channels, got shape \(header.shape)")
        }
        channelsLast = shape[1] != 3
        (count, height, width) = channelsLast ? (shape[0], shape[1], shape[2]) : (shape[0], shape[2], shape[3])
        guard data.count >= header.dataOffset + count * 3 * height * width else {
            throw BERGError.corruptFile(path: path, offset: data.count, message: "truncated: the header declares \(header.shape) uint8 values")
        }
        self.path = path
        self.data = UncheckedSendable(data)
        offset = header.dataOffset
    }

    public var names: [String] { (0..<count).map(name) }

    /// `stem[i]`, the name of image i.
    func name(_ index: Int) -> String { "\(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)[\(index)]" }

    public func load(_ range: Range<Int>) throws -> [StimulusRun] {
        let imageBytes = 3 * height * width
        var pixels: [UInt8] = []
        pixels.reserveCapacity(range.count * imageBytes)
        data.value.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            for index in range {
                let image = UnsafeBufferPointer(rebasing: bytes[offset + index * imageBytes ..< offset + (index + 1) * imageBytes])
                if channelsLast { StimulusLoader.appendCHW(image, width: width, height: height, to: &pixels) }
                else { pixels.append(contentsOf: image) }
            }
        }
        return [.images(try Stimulus(images: pixels, count: range.count, height: height, width: width, names: range.map(name)))]
    }
}
