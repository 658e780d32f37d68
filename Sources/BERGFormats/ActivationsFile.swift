import BERGCore
import Foundation

/// The layout of the activations file `berg features` writes and `berg fit --features` reads:
///
/// ```
/// acts.h5
/// ├── <layer>            float32 [N, ...], one dataset per layer, named exactly as the
/// │                      PyTorch module (features.12, layer3, encoder.layers.encoder_layer_11)
/// ├── stimulus_names     UTF-8 strings [N]
/// └── attributes         network, layers, weights (torchvision's URL, or the local file given),
///                        weights_sha256, preprocessing (the shared record as JSON),
///                        berg_version
/// ```
public enum ActivationsFile {
    /// What `berg features` records about how the activations were made.
    public struct Provenance: Sendable, Equatable {
        public var network: String
        public var layers: [String]
        /// An https URL (torchvision's ImageNet weights) or a local file's path.
        public var weights: String
        public var weightsSHA256: String
        /// The preprocessing record as JSON (`Preprocessing`'s keys).
        public var preprocessing: String
        public var bergVersion: String

        public init(network: String, layers: [String], weights: String, weightsSHA256: String, preprocessing: String,
                    bergVersion: String) {
            self.network = network
            self.layers = layers
            self.weights = weights
            self.weightsSHA256 = weightsSHA256
            self.preprocessing = preprocessing
            self.bergVersion = bergVersion
        }
    }

    /// Writes the provenance as the root's attributes.
    public static func write(_ provenance: Provenance, to file: HDF5File) throws {
        try file.setAttribute("network", .string(provenance.network))
        try file.setAttribute("layers", .strings(provenance.layers))
        try file.setAttribute("weights", .string(provenance.weights))
        try file.setAttribute("weights_sha256", .string(provenance.weightsSHA256))
        try file.setAttribute("preprocessing", .string(provenance.preprocessing))
        try file.setAttribute("berg_version", .string(provenance.bergVersion))
    }

    /// The provenance of a file `berg features` wrote, or nil for an HDF5 file from elsewhere.
    public static func provenance(of file: HDF5File) throws -> Provenance? {
        let names = Set(try file.attributeNames())
        guard ["network", "weights", "weights_sha256", "preprocessing"].allSatisfy(names.contains) else { return nil }
        func string(_ key: String) throws -> String {
            guard case .string(let s) = try file.attribute(key) else {
                throw BERGError.unexpectedContent(path: file.path, message: "attribute '\(key)' is not a string")
            }
            return s
        }
        var layers: [String] = []
        if names.contains("layers"), case .strings(let list) = try file.attribute("layers") { layers = list }
        return Provenance(network: try string("network"), layers: layers, weights: try string("weights"),
                          weightsSHA256: try string("weights_sha256"), preprocessing: try string("preprocessing"),
                          bergVersion: names.contains("berg_version") ? try string("berg_version") : "")
    }
}
