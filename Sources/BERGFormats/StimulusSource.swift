import BERGCore
import Foundation

/// What `StimulusLoader` reads, taken a batch at a time: image files are decoded only when
/// their batch comes, so a folder of thousands of images is never held whole in memory.
public struct StimulusSource: Sendable {
    public let path: String
    /// How many images the source holds.
    public let count: Int
    private let content: Content

    private enum Content: Sendable {
        case array(Stimulus)
        case files([String])
    }

    /// A `.npy` uint8 array, one JPEG or PNG, a folder of them (sorted by name) or a text file
    /// listing image paths, as `StimulusLoader.loadRuns` takes them.
    public init(_ path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BERGError.fileNotFound(path: path, hint: "The input must be an image, a folder of images, a .npy array or a text file listing images")
        }
        let files: [String]
        if isDirectory.boolValue {
            files = try StimulusLoader.imageFiles(inFolder: path)
        } else if URL(fileURLWithPath: path).pathExtension.lowercased() == "npy" {
            let stimulus = try StimulusLoader.load(path, threads: 1)
            content = .array(stimulus)
            count = stimulus.count
            return
        } else if ImageCodec.imageExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased()) {
            files = [path]
        } else {
            let head = (try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 8)) ?? nil
            files = head.flatMap { ImageCodec.format(of: $0) } != nil ? [path] : try StimulusLoader.imageFiles(listedIn: path)
        }
        content = .files(files)
        count = files.count
    }

    /// Calls `body` with consecutive batches of at most `size` images, in order, each with the
    /// index of its first image. Images of different sizes come in separate batches.
    public func forEachBatch(size: Int, threads: Int? = nil, _ body: (Stimulus, Int) throws -> Void) throws {
        let size = max(1, size)
        var offset = 0
        switch content {
        case .array(let stimulus):
            while offset < stimulus.count {
                let batch = stimulus.batch(offset ..< min(offset + size, stimulus.count))
                try body(batch, offset)
                offset += batch.count
            }
        case .files(let files):
            let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
            // Names as the whole list gives them (a batch alone could name a file differently).
            let names = StimulusLoader.names(of: files)
            var start = 0
            while start < files.count {
                let chunk = Array(files[start ..< min(start + size, files.count)])
                for var run in try StimulusLoader.loadImageRuns(chunk, source: path, threads: threads) {
                    run.names = Array(names[offset ..< offset + run.count])
                    try body(run, offset)
                    offset += run.count
                }
                start += chunk.count
            }
        }
    }
}
