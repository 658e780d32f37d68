import BERGCore
import Foundation

/// `.npy` and `.npz` structures from their headers: a numeric array is described by its dtype
/// and shape without reading its data (of an `.npz` member, only the header's bytes are
/// inflated). Object arrays (pickled payloads, such as BERG's metadata dicts) are read through
/// the pickle VM, since their structure is their content; their size is bounded by the file
/// (`.npy`) or by `ReadLimits` (`.npz`).
extension FileStructure {
    /// The structure of an `.npy` file.
    public static func npy(_ path: String, maxChildren: Int = 64, maxDepth: Int = 16) throws -> FileStructure {
        let data = try NPYFile.readFile(path)
        let header = try NPYFile.parseHeader(data, path: path)
        if header.holdsObjects {
            return try NPYFile.decodeObject(data, path: path).structure(maxChildren: maxChildren, maxDepth: maxDepth)
        }
        return header.structure()
    }

    /// The structure of an `.npz` file: a dict of its members, by name without `.npy`.
    public static func npz(_ path: String, maxChildren: Int = 64, maxDepth: Int = 16) throws -> FileStructure {
        let zip = try ZipArchive(path: path)
        var children: [FileStructure] = []
        for entry in zip.entries.prefix(maxChildren) {
            let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            let source = "\(path) [\(entry.name)]"
            let header = try NPYFile.parseHeader(try zip.prefix(of: entry, count: NPYFile.headerSize(zip.prefix(of: entry, count: 12), path: source)),
                                                 path: source)
            if header.holdsObjects {
                let value = try NPYFile.decodeObject(zip.contents(of: entry), path: source)
                children.append(value.structure(name: name, maxChildren: maxChildren, maxDepth: maxDepth - 1))
            } else {
                children.append(header.structure(name: name))
            }
        }
        return FileStructure(name: "", kind: "dict (\(zip.entries.count) keys)", children: children,
                             omitted: zip.entries.count - children.count)
    }
}

extension NPYFile.Header {
    /// An object array (`|O`): its payload is a pickle.
    var holdsObjects: Bool { NumpyArrays.parse(descr)?.kind == "O" }

    /// The array as a tree entry, from the header alone.
    func structure(name: String = "") -> FileStructure {
        guard let (_, kind, size) = NumpyArrays.parse(descr) else {
            return FileStructure(name: name, kind: "array", dtype: descr, shape: shape)
        }
        let names: [Character: String] = ["f": "float", "i": "int", "u": "uint"]
        switch kind {
        case "U", "S":
            return FileStructure(name: name, kind: "string array", dtype: descr, shape: shape)
        case "b", "?":
            return FileStructure(name: name, kind: "tensor", dtype: "bool", shape: shape)
        default:
            let dtype = names[kind].map { "\($0)\(size * 8)" } ?? descr
            return FileStructure(name: name, kind: "tensor", dtype: dtype, shape: shape)
        }
    }
}

extension NPYFile {
    /// The bytes an `.npy` header takes (magic, version, length field and the header text),
    /// from at least its first 12 bytes. Headers over 1 MiB are refused (NumPy itself reads at
    /// most 10,000 bytes by default).
    static func headerSize(_ start: Data, path: String) throws -> Int {
        let bytes = [UInt8](start.prefix(12))
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw BERGError.corruptFile(path: path, offset: 0, message: "not a NumPy .npy file (bad magic)")
        }
        let length: Int
        switch bytes[6] {
        case 1: length = 10 + (Int(bytes[8]) | Int(bytes[9]) << 8)
        case 2, 3:
            guard bytes.count >= 12 else { throw BERGError.corruptFile(path: path, offset: 8, message: "truncated .npy header") }
            length = 12 + (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24)
        default:
            throw BERGError.corruptFile(path: path, offset: 6, message: ".npy version \(bytes[6]) is not supported (1–3 are)")
        }
        guard length <= 1 << 20 else {
            throw BERGError.corruptFile(path: path, offset: 8, message: ".npy header of \(length) bytes is too long (the most is 1 MiB)")
        }
        return length
    }
}
