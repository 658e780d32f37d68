import BERGCore
import Foundation

/// Human-readable outlines of HDF5, NIfTI and image files, for `berg inspect`.
public enum FileSummary {
    /// The HDF5 tree: groups, datasets with shape and type, and attributes, indented by depth.
    public static func describeHDF5(_ path: String) throws -> String {
        let file = try HDF5File(path: path, mode: .read)
        defer { try? file.close() }
        var lines = ["HDF5 file \(path)"]
        try describeGroup(file, "/", depth: 1, into: &lines)
        return lines.joined(separator: "\n")
    }

    private static func describeGroup(_ file: HDF5File, _ group: String, depth: Int, into lines: inout [String]) throws {
        let indent = String(repeating: "  ", count: depth)
        for attribute in try file.attributeNames(of: group) {
            lines.append("\(indent)@\(attribute) = \(summary(try? file.attribute(attribute, of: group)))")
        }
        guard depth < 32 else { lines.append("\(indent)…"); return }
        for child in try file.children(of: group) {
            let name = group == "/" ? "/" + child : group + "/" + child
            switch try file.kind(of: name) {
            case .group:
                lines.append("\(indent)\(child)/")
                try describeGroup(file, name, depth: depth + 1, into: &lines)
            case .dataset:
                let info = try file.info(name)
                lines.append("\(indent)\(child)  \(info.typeDescription) \(info.shape)")
                for attribute in try file.attributeNames(of: name) {
                    lines.append("\(indent)  @\(attribute) = \(summary(try? file.attribute(attribute, of: name)))")
                }
            case .other:
                lines.append("\(indent)\(child)  (other object)")
            }
        }
    }

    private static func summary(_ value: HDF5File.AttributeValue?) -> String {
        switch value {
        case .string(let s)?: return "\"\(s.count > 80 ? String(s.prefix(77)) + "..." : s)\""
        case .int(let v)?: return String(v)
        case .double(let v)?: return String(v)
        case .bool(let v)?: return String(v)
        case .strings(let list)?: return "\(list.count) strings" + (list.count <= 4 ? " \(list)" : "")
        case .tensor(let t)?: return "\(t.dtype.rawValue) \(t.shape)" + (t.count <= 6 ? " \(t.doubles)" : "")
        case .empty?: return "(empty)"
        case nil: return "(unreadable)"
        }
    }

    /// The most NIfTI data `describeNIfTI` reads to count the non-zero voxels (64 MiB); larger
    /// volumes are described by their header alone.
    public static let maxCountedNIfTIBytes = 64 << 20

    /// The NIfTI header essentials: shape, datatype, voxel sizes, forms, affine and scaling,
    /// and, for data up to `maxCountedNIfTIBytes`, the count of non-zero voxels. Of a
    /// `.nii.gz`, only the header is inflated otherwise.
    public static func describeNIfTI(_ path: String) throws -> String {
        let h = try NIfTIFile.readHeader(path)
        let dtypeName = NIfTIFile.storedType(h.datatypeCode).map { "\($0.0.rawValue)" } ?? "code \(h.datatypeCode)"
        let stored = h.datatypeCode == 512 ? "uint16" : h.datatypeCode == 768 ? "uint32" : dtypeName
        var lines = [
            "NIfTI-1 file \(path)",
            "  shape \(h.shape), \(stored)\(h.bigEndian ? " (big-endian)" : "")",
            "  voxel sizes \(h.pixdim[1...min(3, h.shape.count)].map { $0 })",
            "  sform_code \(h.sformCode), qform_code \(h.qformCode)",
            "  affine:",
        ]
        for row in try NIfTIFile.affine(h, path: path) {
            lines.append("    " + row.map { String(format: "%10.4f", $0) }.joined(separator: " "))
        }
        if NIfTIFile.scaling(h) != nil { lines.append("  scaling: value × \(h.sclSlope) + \(h.sclInter)") }
        let voxels = h.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        if let width = NIfTIFile.storedType(h.datatypeCode)?.1, voxels <= maxCountedNIfTIBytes / width {
            let image = try NIfTIFile.read(path)
            let nonZero = image.raw.doubles.reduce(0) { $1 != 0 ? $0 + 1 : $0 }
            lines.append("  non-zero voxels: \(nonZero) of \(image.raw.count)")
        } else if NIfTIFile.storedType(h.datatypeCode) != nil {
            lines.append("  non-zero voxels: not counted (only the header of volumes over \(maxCountedNIfTIBytes >> 20) MiB is read)")
        }
        if !h.description.isEmpty { lines.append("  description: \(h.description)") }
        return lines.joined(separator: "\n")
    }

    /// An image's format, size, bit depth and colour type, from its header (nothing is decoded).
    public static func describeImage(_ path: String) throws -> String {
        let header = try ImageCodec.header(of: try NPYFile.readFile(path), path: path)
        var details = ["\(header.bitDepth)-bit \(header.colour)"]
        if header.hasAlpha { details.append("with transparency (dropped when encoding)") }
        if header.interlaced { details.append("interlaced") }
        return "\(header.format.rawValue.uppercased()) image \(path)\n  \(header.width)×\(header.height) pixels, "
            + details.joined(separator: ", ")
    }
}
