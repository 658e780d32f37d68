import BERG
import BERGFormats
import Foundation
import XCTest

/// The command line's contract, row by row from issue #12 ("Nothing silent, nothing after the
/// fact"): every bad input is refused before any work with the right exit status and one
/// `error:` line, no failed run leaves a file of its own behind, warnings are said, and the
/// messages blame the right cause.
extension CLITests {
    private var pRF: [String] { ["encode", "fmri-kay2013-css_prf", "--subject", "1"] }
    private var offlineHome: [String: String] { ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"] }

    /// The files in the scratch folder other than `keep` (inputs): what a run left behind.
    private func leftovers(keeping keep: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: work.path).filter { !keep.contains($0) }.sorted()
    }

    /// Runs a Python snippet (python3 with zlib, as every machine that runs these tests has).
    private func python(_ code: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", code] + arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw XCTSkip("python3 could not write the test file") }
    }

    // MARK: Wrong results with exit 0

    func testSelectionGivenTwiceOrThroughAnOptionIsAUsageError() throws {
        let images = try writeImages()
        let out = work.appendingPathComponent("out.npy").path
        let io = ["--input", images.path, "--output", out]
        assertFails(try berg(pRF + ["--roi", "V1", "--option", "roi=V2"] + io), status: 2, mentioning: "Invalid option 'roi'")
        assertFails(try berg(pRF + ["--select", "roi=V1", "--select", "roi=V2"] + io), status: 2, mentioning: "give roi once")
        assertFails(try berg(pRF + ["--roi", "V1", "--select", "roi=V1"] + io), status: 2, mentioning: "give roi once")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testMisspeltArtifactNameListsTheModelsArtifacts() throws {
        let images = try writeImages()
        let run = try berg(environment: offlineHome, ["encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1",
                                                      "--artifact", "wieghts=" + work.appendingPathComponent("f.pt").path,
                                                      "--input", images.path, "--output", work.appendingPathComponent("o.npy").path])
        assertFails(run, status: 2, mentioning: "Invalid artifact 'wieghts' for fmri-nsd-fwrf. Valid artifacts: weights, weights_split1, weights_split2, metadata")
    }

    func testBergDirThatIsNotAFolderIsAUsageError() throws {
        let images = try writeImages()
        let io = ["--roi", "V1", "--input", images.path, "--output", work.appendingPathComponent("o.npy").path]
        assertFails(try berg(pRF + io + ["--berg-dir", "/nonexistent"]), status: 2, mentioning: "--berg-dir '/nonexistent': the folder does not exist")
        assertFails(try berg(environment: ["BERG_DIR": "/nonexistent"], pRF + io), status: 2,
                    mentioning: "BERG_DIR '/nonexistent': the folder does not exist")
        let file = work.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        assertFails(try berg(pRF + io + ["--berg-dir", file.path]), status: 2, mentioning: "this is a file")
    }

    func testThreadCountsFromTheFlagAndTheEnvironmentShareOneCheck() throws {
        let images = try writeImages()
        let io = ["--roi", "V1", "--input", images.path, "--output", work.appendingPathComponent("o.npy").path]
        assertFails(try berg(pRF + io + ["--threads", "0"]), status: 2, mentioning: "must be at least 1")
        assertFails(try berg(pRF + io + ["--threads", "-1"]), status: 2, mentioning: "must be at least 1")
        assertFails(try berg(environment: ["BERG_NUM_THREADS": "0"], pRF + io), status: 2, mentioning: "BERG_NUM_THREADS '0'")
        assertFails(try berg(environment: ["BERG_NUM_THREADS": "many"], pRF + io), status: 2, mentioning: "at least 1")
        // The class: negative numbers reach their checks instead of reading as flags.
        assertFails(try berg(pRF + io + ["--batch-size", "-1"]), status: 2, mentioning: "--batch-size must be at least 1")
        assertFails(try berg(["encode", "fmri-kay2013-css_prf", "--subject", "-1"] + io), status: 2, mentioning: "Invalid subject '-1'")
        XCTAssertEqual(try leftovers(keeping: ["images"]), [])
    }

    /// An RGBA PNG encodes (alpha dropped, as Pillow's convert("RGB")) with a `berg: warning:` line
    /// naming it; an opaque one gives none.
    func testTransparencyIsWarnedAbout() throws {
        let images = CLITests.root.appendingPathComponent("Tests/BERGFormatsTests/Fixtures/io/images")
        let out = work.appendingPathComponent("out.h5").path
        let run = try berg(pRF + ["--roi", "V1", "--input", images.appendingPathComponent("rgba.png").path, "--output", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let warnings = run.stderr.split(separator: "\n").filter { $0.hasPrefix("berg: warning: ") }
        XCTAssertEqual(warnings.count, 1, run.stderr)
        XCTAssertTrue(warnings.first?.contains("rgba.png") == true && warnings.first?.contains("alpha channel was dropped") == true, run.stderr)
        let opaque = try berg(pRF + ["--roi", "V1", "--input", images.appendingPathComponent("rgba16.png").path, "--output", out])
        XCTAssertEqual(opaque.status, 0, opaque.stderr)
        XCTAssertFalse(opaque.stderr.contains("warning"), "a 16-bit RGBA image whose alpha is all opaque: \(opaque.stderr)")
    }

    /// A list naming A/x.png and B/x.png gives stimuli named A/x.png and B/x.png.
    func testListedFilesOfOneNameKeepTheirFolders() throws {
        for folder in ["A", "B"] {
            try FileManager.default.createDirectory(at: work.appendingPathComponent(folder), withIntermediateDirectories: true)
            try ImageCodec.writePNG(rgb: [UInt8](repeating: folder == "A" ? 0 : 255, count: 16 * 16 * 3), width: 16, height: 16,
                                    to: work.appendingPathComponent("\(folder)/x.png").path)
        }
        let list = work.appendingPathComponent("list.txt")
        try "A/x.png\nB/x.png\n".write(to: list, atomically: true, encoding: .utf8)
        let out = work.appendingPathComponent("out.h5").path
        let run = try berg(pRF + ["--roi", "V1", "--input", list.path, "--output", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: out, mode: .read)
        defer { try? file.close() }
        XCTAssertEqual(try file.readStrings("stimulus_names"), ["A/x.png", "B/x.png"])
    }

    // MARK: Checks before the work

    /// --volume and --picture that the model cannot fill, and a --picture that is a folder, are
    /// usage errors before any work (fmri-nsd-fwrf offline without its files would otherwise
    /// fail fetching them, with status 1), and nothing is written.
    func testPlacementOutputsAreCheckedBeforeAnyWork() throws {
        let images = try writeImages()
        let npy = work.appendingPathComponent("out.npy").path, h5 = work.appendingPathComponent("out.h5").path
        assertFails(try berg(pRF + ["--roi", "V1", "--input", images.path, "--output", h5,
                                    "--volume", work.appendingPathComponent("v.nii.gz").path]),
                    status: 2, mentioning: "not placed on a voxel grid")
        assertFails(try berg(environment: offlineHome, ["encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--input", images.path,
                                                        "--output", npy, "--picture", work.appendingPathComponent("p.png").path]),
                    status: 2, mentioning: "fmri-nsd-fwrf has no picture")
        let folder = work.appendingPathComponent("pictures.png")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        assertFails(try berg(pRF + ["--roi", "V1", "--input", images.path, "--output", npy, "--picture", folder.path]),
                    status: 2, mentioning: "this is a folder")
        XCTAssertEqual(try leftovers(keeping: ["images", "pictures.png"]), [])
    }

    /// A run that fails after the model ran (a corrupt image among good ones) leaves none of
    /// its outputs, and no temporary files.
    func testFailedRunLeavesNoFiles() throws {
        let images = try writeImages()
        try Data("\u{89}PNG\r\n\u{1A}\nnot really".utf8).write(to: images.appendingPathComponent("d-broken.png"))
        let run = try berg(pRF + ["--roi", "V1", "--input", images.path, "--output", work.appendingPathComponent("out.h5").path,
                                  "--picture", work.appendingPathComponent("out.png").path, "--metadata"])
        assertFails(run, status: 1, mentioning: "d-broken.png")
        XCTAssertEqual(try leftovers(keeping: ["images"]), [])
    }

    // MARK: Resource use on hostile files

    /// `inspect` reads headers: a PNG that declares 13000×13000 pixels (and whose pixel data is
    /// garbage, so that decoding it fails) is described from its header.
    func testInspectReadsAnImageHeaderWithoutDecoding() throws {
        let png = work.appendingPathComponent("huge.png")
        try python("""
            import struct, sys, zlib
            def chunk(kind, data):
                return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
            head = struct.pack(">IIBBBBB", 13000, 13000, 8, 2, 0, 0, 0)
            open(sys.argv[1], "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", head) + chunk(b"IDAT", b"garbage" * 100))
            """, [png.path])
        let run = try berg("inspect", png.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("13000×13000 pixels, 8-bit RGB"), run.stdout)
        assertFails(try berg(pRF + ["--roi", "V1", "--input", png.path, "--output", work.appendingPathComponent("o.npy").path]),
                    status: 1, mentioning: "huge.png")
    }

    /// An .npz of compressed zeros whose deflate stream is damaged past its first kilobytes:
    /// reading the data fails, but `inspect` inflates only each member's header.
    func testInspectReadsNPZMemberHeadersOnly() throws {
        let npz = work.appendingPathComponent("zeros.npz")
        try python("""
            import sys, zipfile
            header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2048, 2048), }"
            header += b" " * (118 - len(header)) + b"\\n"
            with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("zeros.npy", b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header + bytes(8 * 2048 * 2048))
            data = bytearray(open(sys.argv[1], "rb").read())
            for i in range(4000, 8000):
                data[i] ^= 0x55
            open(sys.argv[1], "wb").write(bytes(data))
            """, [npz.path])
        let run = try berg("inspect", npz.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("zeros: tensor float64 [2048, 2048]"), run.stdout)
        XCTAssertThrowsError(try NPZFile.read(npz.path), "the damaged data cannot be read whole")
    }

    /// A .nii.gz whose header declares 1024³ float32 (4 GiB) and whose data stops after a few
    /// bytes: `inspect` describes it from the header; reading it is refused.
    func testInspectReadsTheNIfTIHeaderOnly() throws {
        let nifti = work.appendingPathComponent("huge.nii.gz")
        try python("""
            import gzip, struct, sys
            h = bytearray(348)
            struct.pack_into("<i", h, 0, 348)
            struct.pack_into("<8h", h, 40, 3, 1024, 1024, 1024, 1, 1, 1, 1)
            struct.pack_into("<hh", h, 70, 16, 32)
            struct.pack_into("<8f", h, 76, 1, 2, 2, 2, 1, 1, 1, 1)
            struct.pack_into("<f", h, 108, 352)
            h[344:348] = b"n+1\\x00"
            open(sys.argv[1], "wb").write(gzip.compress(bytes(h) + bytes(4) + bytes(1000)))
            """, [nifti.path])
        let run = try berg("inspect", nifti.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("shape [1024, 1024, 1024], float32"), run.stdout)
        XCTAssertTrue(run.stdout.contains("not counted"), run.stdout)
        XCTAssertThrowsError(try NIfTIFile.read(nifti.path))
    }

    /// `inspect` refuses what is not a regular file, saying what it is.
    func testInspectRefusesFoldersPipesAndDevices() throws {
        let images = try writeImages()
        assertFails(try berg("inspect", images.path), status: 1, mentioning: "is a folder")
        let fifo = work.appendingPathComponent("pipe")
        guard mkfifo(fifo.path, 0o600) == 0 else { throw XCTSkip("cannot make a FIFO here") }
        assertFails(try berg("inspect", fifo.path), status: 1, mentioning: "not a regular file")
        assertFails(try berg("inspect", "/dev/zero"), status: 1, mentioning: "not a regular file")
    }

    // MARK: Messages that name the right cause

    func testOtherImageFormatsAreNamed() throws {
        let folder = CLITests.root.appendingPathComponent("Tests/BERGFormatsTests/Fixtures/io/unsupported")
        for (name, format) in [("image.gif", "GIF"), ("image.bmp", "BMP"), ("image.webp", "WebP"), ("image.tif", "TIFF")] {
            let run = try berg(pRF + ["--roi", "V1", "--input", folder.appendingPathComponent(name).path,
                                      "--output", work.appendingPathComponent("o.npy").path])
            assertFails(run, status: 1, mentioning: "\(format) is not supported; JPEG and PNG are")
        }
    }

    /// A pickled object array given as stimuli is named for what it is, in the user's terms.
    func testPickledNPYInputNamesNoInternalAPI() throws {
        let fixture = CLITests.root.appendingPathComponent("Tests/BERGFormatsTests/Fixtures/metadata_nested_dict.npy")
        let run = try berg(pRF + ["--roi", "V1", "--input", fixture.path, "--output", work.appendingPathComponent("o.npy").path])
        assertFails(run, status: 1, mentioning: "pickled Python objects")
        for apiName in ["NPYFile", "readObject", "NPZFile", "StimulusLoader", "decode("] {
            XCTAssertFalse(run.stderr.contains(apiName), run.stderr)
        }
    }

    func testRegistryPathThatIsNotAFolderNamesTheVariable() throws {
        assertFails(try berg(environment: ["BERG_REGISTRY_PATH": "/nonexistent"], ["list"]), status: 2,
                    mentioning: "BERG_REGISTRY_PATH '/nonexistent'")
    }

    /// Outside the repository, `registry check` without a folder checks the built-in registry.
    func testRegistryCheckWithoutAFolderChecksTheBuiltInOne() throws {
        let run = try berg(directory: work, ["registry", "check"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("built-in registry") && run.stdout.contains("fmri-kay2013-css_prf"), run.stdout)
    }

    func testBenchWithAMissingBergDirNamesIt() throws {
        assertFails(try berg("bench", "fmri-nsd-fwrf", "--berg-dir", "/nonexistent", "--batch", "1"), status: 2,
                    mentioning: "'/nonexistent': the folder does not exist")
    }

    func testGetModelOfTheBuiltInModelSaysSo() throws {
        let run = try berg("get-model", "fmri-kay2013-css_prf", "--subject", "1")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "fmri-kay2013-css_prf is built in; nothing to fetch\n")
    }

    /// Offline, get-model names --artifact, --berg-dir and BERG_OFFLINE, and suggests a
    /// command that works as printed: run again (still offline), it fails the same way, not as
    /// a usage error. Nothing is left in the cache.
    func testGetModelOfflineAdviceIsACommandThatWorks() throws {
        let home = work.appendingPathComponent("home")
        let run = try berg(environment: offlineHome, ["get-model", "fmri-nsd-fwrf", "--subject", "2", "--roi", "FFA-1"])
        assertFails(run, status: 1, mentioning: "--artifact weights=PATH")
        for named in ["--berg-dir", "BERG_OFFLINE"] { XCTAssertTrue(run.stderr.contains(named), run.stderr) }
        let pattern = try NSRegularExpression(pattern: "`(berg get-model [^`]*)`")
        let text = run.stderr as NSString
        let match = try XCTUnwrap(pattern.firstMatch(in: run.stderr, range: NSRange(location: 0, length: text.length)))
        let suggested = text.substring(with: match.range(at: 1))
        XCTAssertEqual(suggested, "berg get-model fmri-nsd-fwrf --subject 2 --roi FFA-1")
        let again = try berg(environment: offlineHome, Array(suggested.split(separator: " ").dropFirst().map(String.init)))
        assertFails(again, status: 1, mentioning: "Artifact 'weights' is not available")
        XCTAssertEqual((try? FileManager.default.subpathsOfDirectory(atPath: home.path)) ?? [], [], "nothing in the cache")

        // The metadata command's advice carries its selection and registry folders too.
        let metadata = try berg(environment: offlineHome, ["metadata", "fmri-nsd-fwrf", "--subject", "3", "--select", "roi=V2"])
        assertFails(metadata, status: 1, mentioning: "`berg get-model fmri-nsd-fwrf --subject 3 --roi V2`")
    }

    /// Without a network (here: a mirror on a closed loopback port), a failed download names
    /// the three ways to work offline and leaves no folder, lock or partial file in the cache.
    func testFailedDownloadLeavesNothingAndNamesTheWaysOffline() throws {
        let home = work.appendingPathComponent("home")
        let run = try berg(environment: ["BERG_HOME": home.path, "BERG_MIRROR": "http://127.0.0.1:9/"],
                           ["get-model", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1"])
        XCTAssertEqual(run.status, 1, run.stderr)
        // Retry notices come first ("berg: … trying again"), then the one error line.
        let lines = run.stderr.split(separator: "\n")
        XCTAssertTrue(lines.dropLast().allSatisfy { $0.hasPrefix("berg: ") }, run.stderr)
        let error = String(lines.last ?? "")
        XCTAssertTrue(error.hasPrefix("error: Download of http://127.0.0.1:9/"), error)
        XCTAssertFalse(error.contains(".."), error)
        for named in ["--artifact", "--berg-dir", "BERG_OFFLINE"] { XCTAssertTrue(error.contains(named), error) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.path),
                       "the cache folders this run made are gone: \((try? FileManager.default.subpathsOfDirectory(atPath: home.path)) ?? [])")
    }

    /// Offline, --dry-run says per file why its size is not known (instead of "size unknown"),
    /// gives the pip wheel's size once, and the summary counts the wheel once.
    func testDryRunSizesOffline() throws {
        let run = try berg(environment: offlineHome, ["get-model", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--dry-run"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, run.stdout)
        for line in lines.prefix(2) { XCTAssertTrue(line.contains("\tsize not known offline (the server says it when online)\t"), String(line)) }
        XCTAssertEqual(lines.last, "2 file(s), 2 to download: 2 file(s) whose size is not known")

        let wheel = try berg(environment: offlineHome, ["get-model", "img2fmri-bold5000", "--subject", "1", "--roi", "OPA", "--dry-run"])
        XCTAssertEqual(wheel.status, 0, wheel.stderr)
        let members = wheel.stdout.split(separator: "\n").filter { $0.contains("/pip/img2fmri-1.0/") }
        XCTAssertEqual(members.count, 16, wheel.stdout)
        XCTAssertTrue(members.allSatisfy { $0.contains("\tin the img2fmri==1.0 wheel (62.3 MB, fetched once)\t") }, wheel.stdout)
        XCTAssertTrue(wheel.stdout.hasSuffix("17 file(s), 17 to download: 62.3 MB and 1 file(s) whose size is not known\n"), wheel.stdout)
    }

    /// `metadata img2fmri-bold5000` offline needs the wheel's files, not the backbone's weights.
    func testImg2fmriMetadataWithoutTheBackbone() throws {
        let run = try berg(environment: offlineHome, [
            "metadata", "img2fmri-bold5000", "--registry", try img2fmriRegistryForStandIn().path, "--subject", "1", "--roi", "OPA",
            "--artifact", "package=" + Self.img2fmriFixtures.appendingPathComponent("package").path, "--json",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertNotNil(object["voxel_ijk"], run.stdout)
        XCTAssertEqual(object["model_id"] as? String, "img2fmri-bold5000")
    }

    /// The .h5 root attribute `subject` and `metadata/subject` are both integers.
    func testSubjectHasOneTypeInTheH5() throws {
        let images = try writeImages()
        let out = work.appendingPathComponent("out.h5").path
        let run = try berg(pRF + ["--roi", "V1", "--input", images.path, "--output", out, "--metadata"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File(path: out, mode: .read)
        defer { try? file.close() }
        XCTAssertEqual(try file.attribute("subject"), .int(1))
        XCTAssertEqual(try file.readMetadata(at: "metadata")["subject"], .int(1))
    }
}
