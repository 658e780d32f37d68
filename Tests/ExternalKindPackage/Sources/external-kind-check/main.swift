import BERG
import ExternalKind
import Foundation

// Registers the kind, writes a manifest of that kind into a registry folder, and encodes two
// images through BERG's facade; exits 1 unless the responses are what the kind computes.
MeanLuminanceEncoder.register()
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("external-kind-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let manifest = """
model_id: mean-luminance-demo
version: "1.0"
modality: fmri
training_dataset: none
species: human
stimuli: images
model_type: mean luminance
creator: an external package
license: MIT
description: Mean luminance of each image, times a gain.
references: []
parameters:
  subject: {type: int, valid_values: [1]}
  selection: {required: false, properties: {}}
input: {name: images, shape: [images, "3", height, width], dtype: uint8}
output:
  - {name: responses, shape: [images, voxels], dtype: float32}
encoder:
  kind: mean-luminance
  settings: {gain: 2, voxels: 3}
artifacts: []

"""
try manifest.write(to: folder.appendingPathComponent("mean-luminance-demo.yaml"), atomically: true, encoding: .utf8)
let berg = try BERG(registries: [folder])
_ = try berg.checkRegistry(folder)
let model = try berg.getEncodingModel("mean-luminance-demo", subject: 1)
let stimulus = try Stimulus(images: [UInt8](repeating: 51, count: 3 * 4 * 4) + [UInt8](repeating: 255, count: 3 * 4 * 4),
                            count: 2, height: 4, width: 4)
let responses = try berg.encode(model, stimulus).response
let expected: [Float] = [0.4, 0.4, 0.4, 2, 2, 2]
guard responses.shape == [2, 3], zip(responses.floats, expected).allSatisfy({ abs($0 - $1) < 1e-6 }) else {
    print("external-kind-check: FAILED, got \(responses.shape) \(responses.floats), expected [2, 3] \(expected)")
    exit(1)
}
print("external-kind-check: ok, a kind registered by a separate package ran through BERG.getEncodingModel and encode")
