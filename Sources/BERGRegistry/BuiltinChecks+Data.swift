import Foundation

extension BuiltinChecks {
    /// The HDF5 bytes of a built-in model's check, if it has one.
    public static func data(for id: String) -> Data? {
        files.first { $0.id == id }.flatMap { Data(base64Encoded: $0.base64, options: .ignoreUnknownCharacters) }
    }
}
