import BERGCore
import Foundation

/// The arrays of a weights file, found by key path, read without copying where the file
/// allows it:
/// - a `.npy` holding a pickled dict (BERG's weights): `/`-separated dict keys, which also
///   step into the attributes of a pickled object (a scikit-learn `PCA`), such as
///   `pca_param/rep-1/components_`. The file is mapped and its arrays stay in the mapping.
/// - an `.npz` (what `berg fit` writes): a member name without `.npy`, such as
///   `pca_components`. Stored members are mapped too; compressed ones are inflated.
public final class KeyedArrayFile: Sendable {
    public let path: String
    private let root: PickleValue

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        let data = file.data
        if ZipArchive.isZip(data) {
            let zip = try ZipArchive(data: data, path: path)
            var entries: [(key: PickleValue, value: PickleValue)] = []
            for entry in zip.entries where !entry.name.hasSuffix("/") {
                let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
                let member = "\(path) [\(entry.name)]"
                let bytes = try zip.contents(of: entry)
                let header = try NPYFile.parseHeader(bytes, path: member)
                let raw = bytes[bytes.startIndex + header.dataOffset ..< bytes.endIndex]
                let count = try NPYFile.checkedCount(header.shape, path: member)
                let width = NPYFile.dtype(forDescr: header.descr)?.0.byteWidth ?? 0
                if width > 0, raw.count >= count * width,
                   let array = try ArrayInFile(descr: header.descr, shape: header.shape, fortranOrder: header.fortranOrder,
                                               bytes: raw.prefix(count * width), file: entry.method == 0 ? file : nil, path: member) {
                    entries.append((.string(name), .arrayInFile(array)))
                } else {
                    entries.append((.string(name), try NPYFile.decodeObject(bytes, path: member)))
                }
            }
            root = .dict(entries)
        } else {
            let header = try NPYFile.parseHeader(data, path: path)
            if NumpyArrays.parse(header.descr)?.kind == "O" {
                var (value, _) = try PickleMachine.load(keepingArraysIn: file, from: header.dataOffset)
                if case .objectArray(let shape, let elements) = value, shape.isEmpty, elements.count == 1 { value = elements[0] }
                root = value
            } else {
                throw BERGError.unexpectedContent(path: path, message: "a single array (\(header.descr) \(header.shape)), not a dict of arrays; expected a pickled dict (np.save of a dict) or an .npz")
            }
        }
    }

    /// The value at a key path, or nil when some key is missing.
    public func value(_ keyPath: String) -> PickleValue? {
        var current = root
        for key in keyPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init) {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    public func contains(_ keyPath: String) -> Bool { value(keyPath) != nil }

    /// The numeric array at a key path; an error names the path and what is there instead.
    public func array(_ keyPath: String) throws -> ArrayInFile {
        switch value(keyPath) {
        case .arrayInFile(let array)?:
            return array
        case .tensor(let t)?:
            // Arrays the reader copied (a NumPy scalar, say): handed back through a buffer.
            let data = RawArray.littleEndianBytes(of: t)
            guard let array = try ArrayInFile(descr: NPYFile.descr(for: t.dtype), shape: t.shape, fortranOrder: false,
                                              bytes: data, file: nil, path: path) else {
                throw BERGError.unexpectedContent(path: path, message: "'\(keyPath)' is \(t.dtype.rawValue), not a numeric array")
            }
            return array
        case let other?:
            throw BERGError.unexpectedContent(path: path, message: "'\(keyPath)' is \(other.kindName), not a numeric array")
        case nil:
            throw BERGError.unexpectedContent(path: path, message: "there is no '\(keyPath)' in this file; \(missingHint(keyPath))")
        }
    }

    /// What the deepest existing part of a missing key path holds.
    private func missingHint(_ keyPath: String) -> String {
        var current = root
        var walked: [String] = []
        for key in keyPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init) {
            guard let next = current[key] else { break }
            current = next
            walked.append(key)
        }
        let place = walked.isEmpty ? "the top level" : "'\(walked.joined(separator: "/"))'"
        let keys = (current.dictionary ?? current.object?.attributes)?.compactMap { $0.key.string } ?? []
        return keys.isEmpty ? "\(place) is \(current.kindName)" : "\(place) holds: \(keys.joined(separator: ", "))"
    }
}
