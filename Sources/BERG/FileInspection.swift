import BERGCore
import BERGFormats
import Foundation

/// What a model file holds (keys, shapes, dtypes, inert objects), read without executing
/// anything: `berg inspect`. Array data is not read: `.npy` and `.npz` arrays are described by
/// their headers (object arrays, which are pickles, are read to show their structure), NIfTI
/// files by their header (non-zero voxels are counted only for data up to
/// `FileSummary.maxCountedNIfTIBytes`), images by their header, never decoded.
public struct FileInspection: Sendable {
    /// The format, such as "PyTorch checkpoint (zip format)".
    public let format: String
    /// An indented outline, one entry per line.
    public let text: String
    /// The same as pretty-printed JSON: `{"format", "structure"}` or `{"format", "outline"}`.
    public let json: String

    /// Reads `path`'s structure; containers show at most `maxEntries` entries and nesting
    /// stops at `maxDepth`.
    public init(path: String, maxEntries: Int = 64, maxDepth: Int = 16) throws {
        guard maxEntries > 0, maxDepth > 0 else {
            throw BERGError.invalidArgument(name: "inspection limits", value: "\(maxEntries), \(maxDepth)", message: "the most entries and the deepest nesting must be positive")
        }
        try FileInspection.checkReadable(path)
        let format = try InspectedFormat.detect(path)
        if let outline = try format.outline(of: path) {
            self.format = format.description
            text = outline
            json = try FileInspection.jsonText(["format": format.description, "outline": outline])
            return
        }
        var structure = try format.structure(of: path, maxEntries: maxEntries, maxDepth: maxDepth)
        structure.name = (path as NSString).lastPathComponent
        self.format = format.description
        text = "\(path): \(format.description)\n" + structure.text()
        json = try FileInspection.jsonText(["format": format.description, "structure": structure.jsonObject])
    }

    private static func jsonText(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    /// A regular file, or an error saying what it is instead.
    static func checkReadable(_ path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw BERGError.fileNotFound(path: path, hint: nil)
        }
        if isFolder.boolValue {
            throw BERGError.invalidInput("\(path) is a folder; berg inspect reads one file (.pt, .pth, .npy, .npz, .pkl, .h5, .nii, .nii.gz, .jpg, .png)")
        }
        let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
        guard type == .typeRegular else {
            throw BERGError.invalidInput("\(path) is not a regular file (a device, pipe or socket); berg inspect reads files")
        }
    }
}

/// The file formats `berg inspect` knows. Adding one is a case here, in `detect` and in `structure`.
enum InspectedFormat: CustomStringConvertible {
    case torchCheckpoint
    case npy
    case npz
    case pickle
    case hdf5
    case nifti
    case image

    var description: String {
        switch self {
        case .torchCheckpoint: return "PyTorch checkpoint"
        case .npy: return "NumPy .npy"
        case .npz: return "NumPy .npz"
        case .pickle: return "pickle"
        case .hdf5: return "HDF5"
        case .nifti: return "NIfTI-1"
        case .image: return "image"
        }
    }

    /// By extension, then by the first bytes.
    static func detect(_ path: String) throws -> InspectedFormat {
        switch (path as NSString).pathExtension.lowercased() {
        case "pt", "pth", "ckpt", "bin": return .torchCheckpoint
        case "npy": return .npy
        case "npz": return .npz
        case "pkl", "pickle", "joblib": return .pickle
        case "h5", "hdf5": return .hdf5
        case "nii": return .nifti
        case "gz" where path.lowercased().hasSuffix(".nii.gz"): return .nifti
        case "jpg", "jpeg", "png": return .image
        default: break
        }
        let headData = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 32) ?? Data()
        let head = [UInt8](headData.prefix(8))
        if head.starts(with: NPYFile.magic) { return .npy }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            let zip = try ZipArchive(path: path)
            return zip.entries.contains { $0.name.hasSuffix("data.pkl") } ? .torchCheckpoint : .npz
        }
        if head.first == 0x80 { return head.starts(with: [0x80, 0x02, 0x8A, 0x0A]) ? .torchCheckpoint : .pickle }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46]) { return .hdf5 }
        if head.starts(with: [0xFF, 0xD8]) || head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .image }
        if let image = ImageCodec.unsupportedFormat(of: headData) {
            throw BERGError.unsupported("\(path): \(image) images are not read; berg inspect reads .pt/.pth, .npy, .npz, .pkl, .h5, .nii(.gz), .jpg and .png files")
        }
        throw BERGError.unsupported("\(path): unknown file format. berg inspect reads .pt/.pth, .npy, .npz, .pkl, .h5, .nii(.gz), .jpg and .png files")
    }

    /// A text outline, for the formats whose readers describe themselves as text.
    func outline(of path: String) throws -> String? {
        switch self {
        case .hdf5: return try FileSummary.describeHDF5(path)
        case .nifti: return try FileSummary.describeNIfTI(path)
        case .image: return try FileSummary.describeImage(path)
        default: return nil
        }
    }

    /// The structure tree, for the formats read into `PickleValue`s.
    func structure(of path: String, maxEntries: Int, maxDepth: Int) throws -> FileStructure {
        switch self {
        case .torchCheckpoint:
            let checkpoint = try TorchCheckpoint(path: path)
            var s = checkpoint.root.structure(maxChildren: maxEntries, maxDepth: maxDepth)
            s.kind += " (\(checkpoint.format.rawValue) format)"
            return s
        case .npy:
            return try FileStructure.npy(path, maxChildren: maxEntries, maxDepth: maxDepth)
        case .npz:
            return try FileStructure.npz(path, maxChildren: maxEntries, maxDepth: maxDepth)
        case .pickle:
            return try PickleMachine.load(try NPYFile.readFile(path), path: path).structure(maxChildren: maxEntries, maxDepth: maxDepth)
        case .hdf5, .nifti, .image:
            throw BERGError.unsupported("\(path): \(self) files are described as text, not as a tree")
        }
    }
}
