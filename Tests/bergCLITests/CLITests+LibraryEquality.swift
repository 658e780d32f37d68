import BERG
import BERGFormats
import BERGStore
import Foundation
import XCTest

/// What `berg encode --input image.png` writes equals what a library caller gets from
/// `berg.encode(model, Stimulus(...))` with the same pixels, for every built-in model, with a
/// non-square image (each encoder crops and resizes it itself).
extension CLITests {
    /// A wide, smoothly varying image, as PNG (lossless) and as the uint8 stimulus it decodes to.
    func wideImage(width: Int = 61, height: Int = 44) throws -> (png: String, stimulus: Stimulus) {
        var hwc = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { hwc[(y * width + x) * 3 + c] = UInt8((x * 4 + y * 3 + c * 70 + (x * y) % 17) % 256) }
            }
        }
        let path = work.appendingPathComponent("wide.png").path
        try ImageCodec.writePNG(rgb: hwc, width: width, height: height, to: path)
        let chw = (0..<3).flatMap { c in (0..<(width * height)).map { hwc[3 * $0 + c] } }
        return (path, try Stimulus(images: chw, count: 1, height: height, width: width, names: ["wide.png"]))
    }

    /// One-output models write an `.npy`, others an `.npz` (one array per output).
    func assertLibraryEqualsCLI(_ model: String, selection: Selection, options: EncodingOptions = [:], arguments: [String],
                                registries: [URL] = [], storeOptions: StoreOptions, file: StaticString = #filePath, line: UInt = #line) throws {
        let (png, stimulus) = try wideImage()
        let berg = try BERG(registries: registries, storeOptions: storeOptions)
        let several = try berg.describe(model).output.count > 1
        let output = work.appendingPathComponent("\(model).\(several ? "npz" : "npy")").path
        let run = try self.berg(environment: offline, ["encode", model, "--subject", "1", "--input", png, "--output", output] + arguments)
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        let encoder = try berg.getEncodingModel(model, subject: 1, selection: selection, options: options)
        let library = try berg.encode(encoder, stimulus)
        let written = several ? try NPZFile.read(output) : ["responses": try NPYFile.read(output)]
        XCTAssertEqual(Set(written.keys), Set(library.outputNames), file: file, line: line)
        for name in library.outputNames {
            XCTAssertEqual(library.responses[name]?.floats.map(\.bitPattern), written[name]?.floats.map(\.bitPattern),
                           "\(model) \(name): library and command line differ", file: file, line: line)
        }
    }

    func testLibraryEqualsCommandLineForEveryBuiltInModel() throws {
        try assertLibraryEqualsCLI("fmri-kay2013-css_prf", selection: ["roi": "V2"], arguments: ["--roi", "V2"],
                                   storeOptions: StoreOptions(offline: true))

        let fwrf = CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/fwrf")
        try ArchiveExtractor.extract(fwrf.appendingPathComponent("berg_dir.tar.xz"), into: work)
        let bergDir = work.appendingPathComponent("berg_dir")
        try assertLibraryEqualsCLI("fmri-nsd-fwrf", selection: ["roi": "V1"], arguments: ["--roi", "V1", "--berg-dir", bergDir.path],
                                   storeOptions: StoreOptions(bergDir: bergDir, offline: true))

        let package = Self.img2fmriFixtures.appendingPathComponent("package"), backbone = Self.img2fmriFixtures.appendingPathComponent("resnet18-tiny.pth")
        let registry = try img2fmriRegistryForStandIn()
        try assertLibraryEqualsCLI("img2fmri-bold5000", selection: ["roi": "OPA"], options: ["center_crop": true],
                                   arguments: ["--roi", "OPA", "--option", "center_crop=true", "--registry", registry.path,
                                               "--artifact", "package=" + package.path, "--artifact", "backbone=" + backbone.path],
                                   registries: [registry],
                                   storeOptions: StoreOptions(overrides: ["package": package, "backbone": backbone], offline: true))
        let vit = CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/vit")
        try ArchiveExtractor.extract(vit.appendingPathComponent("berg_dir.tar.xz"), into: work.appendingPathComponent("vit"))
        let vitDir = work.appendingPathComponent("vit/berg_dir"), vitBackbone = vitDir.appendingPathComponent("backbone.pth")
        let vitFlags = ["--berg-dir", vitDir.path, "--artifact", "backbone=" + vitBackbone.path]
        let vitStore = StoreOptions(bergDir: vitDir, overrides: ["backbone": vitBackbone], offline: true)
        try assertLibraryEqualsCLI("fmri-nsd_fsaverage-vit_b_32", selection: ["roi": "V1v"], arguments: ["--roi", "V1v"] + vitFlags,
                                   storeOptions: vitStore)
        try assertLibraryEqualsCLI("eeg-things_eeg_2-vit_b_32", selection: ["channels": "Oz,Cz", "timepoints": "20:60"],
                                   arguments: ["--select", "channels=Oz,Cz", "--select", "timepoints=20:60"] + vitFlags, storeOptions: vitStore)
        XCTAssertEqual(try BERG().listModels().count, 5, "a new built-in model needs a case here")
    }
}
