import BERGCore
@testable import BERGRegistry
import Foundation
import XCTest

/// Typed encoder settings (decoded strictly, with key paths in errors), encoding options, and
/// the preprocessing record's checks.
final class SettingsAndOptionsTests: XCTestCase {
    struct Area: Decodable, Equatable { var gain: Double; var sigmaSlope: Double }
    struct Settings: EncoderSettingsType, Equatable {
        var contrastGrid: Int
        var fieldRadiusDeg: Double
        var note: String?
        var areas: [String: Area]
        var layers: [String]
        func validate() throws {
            guard contrastGrid >= 4 else { throw SettingsProblem("contrast_grid", "must be at least 4") }
        }
    }

    let good: [String: ManifestValue] = [
        "contrast_grid": .int(96), "field_radius_deg": .int(8),
        "areas": .map(["hV4": .map(["gain": .double(1), "sigma_slope": .double(0.3)])]),
        "layers": .list([.string("features.12")]),
    ]

    func decode(_ settings: [String: ManifestValue]) throws -> Settings {
        try SettingsDecoder.decode(Settings.self, from: settings, file: "m.yaml", path: "encoder.settings")
    }

    func problem(_ settings: [String: ManifestValue]) -> (keyPath: String, message: String)? {
        do { _ = try decode(settings); XCTFail("expected a rejection") } catch let BERGError.invalidManifest(file, keyPath, message) {
            XCTAssertEqual(file, "m.yaml")
            return (keyPath, message)
        } catch { XCTFail("\(error)") }
        return nil
    }

    func testSnakeCaseKeysDecodeIntoTypedSettings() throws {
        let s = try decode(good)
        XCTAssertEqual(s.contrastGrid, 96)
        XCTAssertEqual(s.fieldRadiusDeg, 8, "an integer is a fine number")
        XCTAssertNil(s.note)
        XCTAssertEqual(s.areas["hV4"], Area(gain: 1, sigmaSlope: 0.3), "dictionary keys are kept as written")
        XCTAssertEqual(s.layers, ["features.12"])
    }

    func testUnknownMissingAndMistypedSettingsNameTheirKeyPath() {
        var misspelt = good
        misspelt["contrast_gird"] = .int(3)
        let unknown = problem(misspelt)
        XCTAssertEqual(unknown?.keyPath, "encoder.settings.contrast_gird")
        XCTAssertTrue(unknown?.message.contains("unknown setting 'contrast_gird'") ?? false, unknown?.message ?? "")
        XCTAssertTrue(unknown?.message.contains("contrast_grid") ?? false, "lists the keys it knows")

        var nested = good
        nested["areas"] = .map(["V1": .map(["gain": .int(1), "sigma_slope": .int(0), "exponent": .int(1)])])
        XCTAssertEqual(problem(nested)?.keyPath, "encoder.settings.areas.V1.exponent")

        var missing = good
        missing["field_radius_deg"] = nil
        XCTAssertEqual(problem(missing)?.keyPath, "encoder.settings.field_radius_deg")
        XCTAssertTrue(problem(missing)?.message.contains("missing required setting") ?? false)

        var wrong = good
        wrong["layers"] = .list([.string("a"), .int(3)])
        let typed = problem(wrong)
        XCTAssertEqual(typed?.keyPath, "encoder.settings.layers[1]")
        XCTAssertTrue(typed?.message.contains("expected a string") ?? false, typed?.message ?? "")

        var small = good
        small["contrast_grid"] = .int(2)
        XCTAssertEqual(problem(small)?.keyPath, "encoder.settings.contrast_grid")
        XCTAssertEqual(problem(small)?.message, "must be at least 4")
    }

    // MARK: - Options

    func manifest(options: String) throws -> Manifest {
        let text = BuiltinManifests.files.first { $0.name == "fmri-kay2013-css_prf.yaml" }!.text
        return try ManifestLoader.load(yaml: text.replacingOccurrences(of: "input:\n", with: options + "input:\n"),
                                       file: "registry/fmri-kay2013-css_prf.yaml")
    }

    let declared = """
          options:
            center_crop: {type: bool, default: false}
            sigma: {type: number, default: 1}
            space: {type: string, default: subject, valid_values: [subject, mni]}
        """ + "\n"

    func testOptionsResolveWithDefaultsAndParseTypedValues() throws {
        let m = try manifest(options: declared.replacingOccurrences(of: "    options", with: "  options"))
        let registry = Registry()
        let defaults = try registry.resolveOptions(m, [:])
        XCTAssertEqual(defaults, ["center_crop": false, "sigma": 1.0, "space": "subject"])
        let parsed = try registry.parseOptions(m, ["center_crop=yes", "sigma=2", "space=mni"])
        XCTAssertEqual(parsed, ["center_crop": true, "sigma": 2.0, "space": "mni"])
        XCTAssertEqual(try registry.resolveOptions(m, ["sigma": 3]), ["center_crop": false, "sigma": 3.0, "space": "subject"])

        func usage(_ body: () throws -> Any, mentions text: String) {
            XCTAssertThrowsError(try body()) { error in
                let message = (error as? BERGError)?.message ?? ""
                XCTAssertTrue((error as? BERGError)?.isUsageError ?? false, message)
                XCTAssertTrue(message.contains(text), "\(message) should mention \(text)")
            }
        }
        usage({ try registry.parseOptions(m, ["roi=V2"]) }, mentions: "center_crop, sigma, space")
        usage({ try registry.parseOptions(m, ["center_crop=maybe"]) }, mentions: "false, true")
        usage({ try registry.parseOptions(m, ["space=talairach"]) }, mentions: "subject, mni")
        usage({ try registry.parseOptions(m, ["sigma=1", "sigma=2"]) }, mentions: "given twice")
        usage({ try registry.resolveOptions(m, ["sigma": "wide"]) }, mentions: "a number")
        usage({ try registry.resolveOptions(m, ["colour": true]) }, mentions: "center_crop")
    }

    func testOptionDeclarationsAreChecked() {
        for (bad, keyPath) in [("center_crop: {type: bool, default: 3}", "parameters.options.center_crop.default"),
                               ("roi: {type: string, default: V1}", "parameters.options.roi"),
                               ("space: {type: string, default: x, valid_values: [a, b]}", "parameters.options.space.default")] {
            XCTAssertThrowsError(try manifest(options: "  options:\n    \(bad)\n")) { error in
                guard case BERGError.invalidManifest(_, let path, _)? = error as? BERGError else { return XCTFail("\(error)") }
                XCTAssertEqual(path, keyPath)
            }
        }
    }

    func testPreprocessingIsChecked() {
        let text = BuiltinManifests.files.first { $0.name == "fmri-nsd-fwrf.yaml" }!.text
        for (from, to, keyPath) in [("    size: [227, 227]\n", "", "encoder.preprocessing.resize"),
                                    ("    size: [227, 227]\n", "    size: [227, 227]\n    shorter_side: 256\n", "encoder.preprocessing.size"),
                                    ("    size: [227, 227]\n", "    size: [227]\n", "encoder.preprocessing.size"),
                                    ("    size: [227, 227]\n", "    size: [227, 227]\n    crop: 300\n", "encoder.preprocessing.crop"),
                                    ("    size: [227, 227]\n", "    size: [227, 227]\n    mean: [0.5, 0.5, 0.5]\n", "encoder.preprocessing.std")] {
            XCTAssertThrowsError(try ManifestLoader.load(yaml: text.replacingOccurrences(of: from, with: to), file: "registry/fmri-nsd-fwrf.yaml")) { error in
                guard case BERGError.invalidManifest(_, let path, _)? = error as? BERGError else { return XCTFail("\(error)") }
                XCTAssertEqual(path, keyPath, "\(error)")
            }
        }
    }
}
