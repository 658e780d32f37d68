import ArgumentParser
import BERG
import Foundation

/// `berg inspect FILE`: what a model file holds (keys, shapes, dtypes, inert objects), read
/// without executing anything.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the structure of a model file: keys, shapes, dtypes and inert objects.",
        discussion: "Reads PyTorch checkpoints (.pt, .pth), NumPy files (.npy, .npz) and pickles (.pkl) without executing them.")

    @Argument(help: "The file to inspect.")
    var file: String

    @Flag(help: "Print JSON instead of an indented tree.")
    var json = false

    @Option(help: "Most entries shown per container.")
    var maxEntries = 64

    @Option(help: "Deepest nesting shown.")
    var maxDepth = 16

    func validate() throws {
        guard maxEntries > 0, maxDepth > 0 else { throw ValidationError("--max-entries and --max-depth must be positive") }
    }

    func run() throws {
        let format = try InspectedFormat.detect(file)
        if let outline = try format.outline(of: file) {
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["format": format.description, "outline": outline],
                                                      options: [.prettyPrinted, .sortedKeys])
                writeStdout(String(decoding: data, as: UTF8.self) + "\n")
            } else {
                writeStdout(outline + "\n")
            }
            return
        }
        var structure = try format.structure(of: file, maxEntries: maxEntries, maxDepth: maxDepth)
        structure.name = (file as NSString).lastPathComponent
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["format": format.description, "structure": structure.jsonObject],
                                                  options: [.prettyPrinted, .sortedKeys])
            writeStdout(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            writeStdout("\(file): \(format.description)\n" + structure.text() + "\n")
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
        let head = [UInt8](try NPYFile.readFile(path).prefix(8))
        if head.starts(with: NPYFile.magic) { return .npy }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            let zip = try ZipArchive(path: path)
            return zip.entries.contains { $0.name.hasSuffix("data.pkl") } ? .torchCheckpoint : .npz
        }
        if head.first == 0x80 { return head.starts(with: [0x80, 0x02, 0x8A, 0x0A]) ? .torchCheckpoint : .pickle }
        if head.starts(with: [0x89, 0x48, 0x44, 0x46]) { return .hdf5 }
        if head.starts(with: [0xFF, 0xD8]) || head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .image }
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
            return try NPYFile.readObject(path).structure(maxChildren: maxEntries, maxDepth: maxDepth)
        case .npz:
            let arrays = try NPZFile.readValues(path)
            return PickleValue.dict(arrays.map { (key: .string($0.name), value: $0.value) })
                .structure(maxChildren: maxEntries, maxDepth: maxDepth)
        case .pickle:
            return try PickleMachine.load(try NPYFile.readFile(path), path: path).structure(maxChildren: maxEntries, maxDepth: maxDepth)
        case .hdf5, .nifti, .image:
            throw BERGError.unsupported("\(path): \(self) files are described by outline(of:)")
        }
    }
}
