import XCTest
@testable import BERGCore

/// Subject, Selection, Device, options, results and the error messages users read.
final class ParametersTests: XCTestCase {
    func testSubjectOrdersAndPrints() {
        let subjects: [Subject] = [3, 1, 2]
        XCTAssertEqual(subjects.sorted().map(\.number), [1, 2, 3])
        XCTAssertEqual(Subject(8).description, "8")
    }

    func testSelectionDescriptionIsSortedKeyValuePairs() {
        var selection: Selection = ["roi": "V1", "hemisphere": "lh"]
        XCTAssertEqual(selection.description, "hemisphere=lh,roi=V1")
        selection["roi"] = nil
        XCTAssertEqual(selection.description, "hemisphere=lh")
        XCTAssertTrue(Selection().isEmpty)
        XCTAssertEqual(Selection(["roi": "V2"]), ["roi": "V2"])
    }

    func testDeviceResolvesToTheCPUAndRefusesCUDAWithTheDevicesItHas() throws {
        XCTAssertEqual(try Device.auto.resolved(), .cpu)
        XCTAssertEqual(try Device.cpu.resolved(), .cpu)
        XCTAssertThrowsError(try Device.cuda.resolved()) { error in
            let message = (error as? BERGError)?.message ?? ""
            XCTAssertTrue(message.contains("cuda") && message.contains("cpu"), message)
            XCTAssertFalse(message.contains("--"), "library messages name no command-line flags: \(message)")
            XCTAssertFalse((error as? BERGError)?.isUsageError ?? true)
        }
    }

    func testOptionsAreTypedAndReadBack() {
        let options: EncodingOptions = ["center_crop": true, "sigma": 1.5, "steps": 4, "space": "mni"]
        XCTAssertEqual(options.bool("center_crop"), true)
        XCTAssertEqual(options.number("sigma"), 1.5)
        XCTAssertEqual(options.number("steps"), 4, "an integer is a number too")
        XCTAssertEqual(options.int("steps"), 4)
        XCTAssertNil(options.int("sigma"))
        XCTAssertEqual(options.string("space"), "mni")
        XCTAssertEqual(options.description, "center_crop=true,sigma=1.5,space=mni,steps=4")
    }

    /// Every message is one line that says what was wrong and what is valid.
    func testErrorMessagesNameTheProblemAndTheValidChoices() {
        XCTAssertEqual(BERGError.invalidParameter(model: "m", name: "roi", value: "V7", valid: ["V1", "V2"]).message,
                       "Invalid ROI 'V7' for m. Valid ROIs: V1, V2")
        XCTAssertEqual(BERGError.invalidParameter(model: "m", name: "option center_crop", value: "maybe", valid: ["false", "true"]).message,
                       "Invalid option center_crop 'maybe' for m. Valid values: false, true")
        XCTAssertEqual(BERGError.unknownModel(id: "x", known: ["a", "b"]).message, "Unknown model 'x'. Known models: a, b")
        XCTAssertEqual(BERGError.invalidArgument(name: "BERG_NUM_THREADS", value: "0", message: "must be at least 1").message,
                       "BERG_NUM_THREADS '0': must be at least 1")
        XCTAssertEqual(BERGError.corruptFile(path: "w.pt", offset: 12, message: "truncated").message, "w.pt (byte 12): truncated")
        XCTAssertEqual(BERGError.shapeMismatch(what: "responses", expected: [2, 3], actual: [2]).message,
                       "responses: expected shape [2, 3], got [2]")
        for usage in [BERGError.unknownModel(id: "x", known: []), .invalidParameter(model: "m", name: "roi", value: "", valid: []),
                      .invalidArgument(name: "a", value: "b", message: "c"), .invalidSelection(model: "m", message: "x")] {
            XCTAssertTrue(usage.isUsageError, "\(usage)")
        }
        for failure in [BERGError.fileNotFound(path: "p", hint: nil), .corruptFile(path: "p", offset: nil, message: "m"),
                        .writeFailed(path: "p", message: "m"), .downloadFailed(url: "u", message: "m")] {
            XCTAssertFalse(failure.isUsageError, "\(failure)")
        }
    }

    func testStimulusChecksItsShapeAndBatches() throws {
        XCTAssertThrowsError(try Stimulus(images: [1, 2, 3], count: 1, height: 1, width: 2))
        XCTAssertThrowsError(try Stimulus(images: [], count: 0, height: 1, width: 1))
        XCTAssertThrowsError(try Stimulus(images: [UInt8](repeating: 0, count: 6), count: 2, height: 1, width: 1, names: ["a"]))
        let s = try Stimulus(images: Array(0..<12), count: 2, height: 1, width: 2, names: ["a", "b"])
        XCTAssertEqual(s.batch(1..<2).names, ["b"])
        XCTAssertEqual(Array(s.batch(1..<2).pixels), Array(6..<12))
        XCTAssertEqual(s.tensor.shape, [2, 3, 1, 2])
    }

    func testSingleResponseAndPlacements() throws {
        let one = EncodingResult(responses: ["responses": try Tensor(shape: [1, 2], floats: [1, 2])], metadata: Metadata())
        XCTAssertEqual(try one.response.floats, [1, 2])
        let two = EncodingResult(responses: ["lh": try .zeros([1, 1]), "rh": try .zeros([1, 1])], metadata: Metadata())
        XCTAssertThrowsError(try two.response) { error in XCTAssertTrue("\(error)".contains("lh, rh"), "\(error)") }
        XCTAssertThrowsError(try VolumePlacement(gridShape: [2, 2, 2], affine: [Double](repeating: 0, count: 16), voxels: ["responses": [0, 0, 2]]),
                             "a voxel outside the grid")
        XCTAssertThrowsError(try SurfacePlacement(mesh: "fsaverage", vertexCount: ["lh": 4], vertices: ["lh": [4]]))
        XCTAssertThrowsError(try VisualFieldPlacement(x: [0, 1], y: [0], sigma: [1, 1], fieldRadius: 8))
        let volume = try VolumePlacement(gridShape: [2, 3, 4], affine: [Double](repeating: 0, count: 16), voxels: ["responses": [1, 2, 3]])
        XCTAssertEqual(volume.cells(of: "responses"), [1 + 2 * (2 + 3 * 3)], "Fortran-order cell: i + X·(j + Y·k)")
    }

    func testMetadataLooksUpTypedValuesByPath() throws {
        var fmri = Metadata()
        fmri["affine"] = .tensor(try Tensor(shape: [2], doubles: [1, 2]))
        let m = Metadata([("fmri", .group(fmri)), ("roi", .string("V1")), ("count", .int(3)), ("scale", .double(0.5)),
                          ("names", .strings(["a"])), ("flag", .bool(true))])
        XCTAssertEqual(m.doubles("fmri/affine"), [1, 2])
        XCTAssertEqual(m.string("roi"), "V1")
        XCTAssertEqual(m.int("count"), 3)
        XCTAssertEqual(m.double("count"), 3)
        XCTAssertEqual(m.double("scale"), 0.5)
        XCTAssertEqual(m.strings("names"), ["a"])
        XCTAssertEqual(m.bool("flag"), true)
        XCTAssertNil(m.string("count"), "another kind of value is nil, not a conversion")
        XCTAssertNil(m.floats("fmri/missing"))
        XCTAssertEqual(m.keys, ["fmri", "roi", "count", "scale", "names", "flag"], "insertion order")
    }
}
