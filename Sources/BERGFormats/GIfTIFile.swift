import BERGCore
import CZlib
import Foundation

/// GIfTI functional files (`.func.gii`): one float32 data array per stimulus over all of a
/// surface's vertices, as nibabel (`nib.load(path).darrays`) and nilearn
/// (`surface.load_surf_data`, giving [vertices, stimuli]) read them.
///
/// ```
/// <GIFTI Version="1.0" NumberOfDataArrays="N">
///   <MetaData> (what the caller gives: model id, hemisphere, …)
///   <DataArray Intent="NIFTI_INTENT_NONE" DataType="NIFTI_TYPE_FLOAT32" Dimensionality="1"
///              Dim0="V" Encoding="GZipBase64Binary" Endian="LittleEndian" …>
///     <MetaData> Name = the stimulus name
///     <Data> zlib-compressed, base64-encoded little-endian float32 </Data>
///   </DataArray> … one per stimulus
/// </GIFTI>
/// ```
public enum GIfTIFile {
    /// Writes `arrays` (each `vertexCount` floats) through a temporary file renamed into place.
    /// Arrays are compressed on up to `threads` threads.
    public static func writeFunctional(_ arrays: [[Float]], names: [String], metadata: [(String, String)] = [],
                                       to path: String, threads: Int = 1) throws {
        guard let count = arrays.first?.count, arrays.allSatisfy({ $0.count == count }), names.count == arrays.count else {
            throw BERGError.invalidInput("GIfTI: every data array must have the same length, with one name each")
        }
        let writer = try StreamWriter(path: path, arrays: arrays.count, vertexCount: count, metadata: metadata)
        do {
            try writer.append(arrays, names: names, threads: threads)
            try writer.finish()
            try writer.commit()
        } catch {
            writer.discard()
            throw error
        }
    }

    /// A functional file written a few data arrays at a time: the header (with the number of
    /// arrays to come) first, then each array as it is appended.
    public final class StreamWriter {
        private let file: StagedFile
        private let arrays: Int
        /// Values per data array.
        public let vertexCount: Int
        private var written = 0

        public init(path: String, arrays: Int, vertexCount: Int, metadata: [(String, String)]) throws {
            file = try StagedFile(path: path)
            self.arrays = arrays
            self.vertexCount = vertexCount
            var head = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
            head += #"<!DOCTYPE GIFTI SYSTEM "http://www.nitrc.org/frs/download.php/115/gifti.dtd">"# + "\n"
            head += #"<GIFTI Version="1.0" NumberOfDataArrays="\#(arrays)">"# + "\n"
            head += GIfTIFile.metaData(metadata, indent: "  ") + "  <LabelTable/>\n"
            try file.write(Data(head.utf8))
        }

        deinit { discard() }

        /// The next data arrays (each `vertexCount` floats) and their names, compressed on
        /// up to `threads` threads.
        public func append(_ values: [[Float]], names: [String], threads: Int = 1) throws {
            guard values.count == names.count, values.allSatisfy({ $0.count == vertexCount }), written + values.count <= arrays else {
                throw BERGError.invalidInput("GIfTI \(file.path): expected at most \(arrays - written) more arrays of \(vertexCount) values, with a name each")
            }
            let encoded = try concurrentMap(values, threads: threads) { try GIfTIFile.compressedBase64($0) }
            for (name, data) in zip(names, encoded) {
                var text = #"  <DataArray Intent="NIFTI_INTENT_NONE" DataType="NIFTI_TYPE_FLOAT32" ArrayIndexingOrder="RowMajorOrder" Dimensionality="1" Dim0="\#(vertexCount)" Encoding="GZipBase64Binary" Endian="LittleEndian" ExternalFileName="" ExternalFileOffset="">"# + "\n"
                text += GIfTIFile.metaData([("Name", name)], indent: "    ") + "    <Data>"
                try file.write(Data(text.utf8))
                try file.write(data)
                try file.write(Data("</Data>\n  </DataArray>\n".utf8))
            }
            written += values.count
        }

        /// Closes the document; every announced array must have been written.
        public func finish() throws {
            guard written == arrays else {
                throw BERGError.invalidInput("GIfTI \(file.path): \(written) of \(arrays) data arrays written")
            }
            try file.write(Data("</GIFTI>\n".utf8))
        }

        public func commit() throws { try file.commit() }

        public func discard() { file.discard() }
    }

    static func metaData(_ entries: [(String, String)], indent: String) -> String {
        guard !entries.isEmpty else { return "\(indent)<MetaData/>\n" }
        var out = "\(indent)<MetaData>\n"
        for (name, value) in entries {
            out += "\(indent)  <MD><Name><![CDATA[\(cdata(name))]]></Name><Value><![CDATA[\(cdata(value))]]></Value></MD>\n"
        }
        return out + "\(indent)</MetaData>\n"
    }

    /// Text safe inside CDATA (which cannot hold `]]>`).
    static func cdata(_ text: String) -> String { text.replacingOccurrences(of: "]]>", with: "]]]]><![CDATA[>") }

    /// Little-endian float32 bytes, zlib-compressed (level 1), base64-encoded.
    static func compressedBase64(_ values: [Float]) throws -> Data {
        try values.withUnsafeBytes { raw -> Data in
            var bound = compressBound(uLong(raw.count))
            var out = [UInt8](repeating: 0, count: Int(bound))
            let status = compress2(&out, &bound, raw.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(raw.count), 1)
            guard status == Z_OK else { throw BERGError.writeFailed(path: "GIfTI", message: "zlib failed (\(status))") }
            return Data(out.prefix(Int(bound))).base64EncodedData()
        }
    }

    /// The float32 values of one `GZipBase64Binary` data array (the inverse of `compressedBase64`).
    static func decodeData(_ base64: String, count: Int) throws -> [Float] {
        guard let packed = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
            throw BERGError.corruptFile(path: "GIfTI", offset: nil, message: "data is not base64")
        }
        var out = [Float](repeating: 0, count: count)
        var size = uLong(count * 4)
        let status = out.withUnsafeMutableBytes { dst in
            packed.withUnsafeBytes { src in
                uncompress(dst.baseAddress!.assumingMemoryBound(to: Bytef.self), &size,
                           src.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(src.count))
            }
        }
        guard status == Z_OK, size == uLong(count * 4) else {
            throw BERGError.corruptFile(path: "GIfTI", offset: nil, message: "data does not inflate to \(count) float32 values")
        }
        return out
    }
}
