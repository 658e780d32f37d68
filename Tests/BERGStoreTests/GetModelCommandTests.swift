import BERGStore
import BERGTestSupport
import Foundation
import XCTest

/// `berg get-model` and `berg cache` run as processes against the test server. Skipped where
/// the `berg` executable has not been built with these commands.
final class GetModelCommandTests: StoreTestCase {
    /// The `berg` built beside this test bundle, or nil when it has not been built.
    var bergBinary: URL? {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let folders = [testBinary.deletingLastPathComponent(), Bundle.main.bundleURL,
                       Bundle(for: GetModelCommandTests.self).bundleURL.deletingLastPathComponent()]
        guard let binary = folders.map({ $0.appendingPathComponent("berg") })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else { return nil }
        // A build of the command line without `get-model` (yet) cannot take part.
        let probe = Process()
        probe.executableURL = binary
        probe.arguments = ["get-model", "--help"]
        let help = Pipe()
        probe.standardOutput = help
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        let text = String(decoding: help.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        return probe.terminationStatus == 0 && text.contains("--berg-dir") ? binary : nil
    }

    static let manifestYAML = """
    model_id: store-test-model
    version: "1"
    modality: fmri
    training_dataset: nsd
    species: human
    stimuli: images
    model_type: test fixture
    creator: BERGStore tests
    license: MIT
    description: A manifest whose one artifact lives in a test server's bucket.
    references:
      - citation: "None: a test fixture."
    parameters:
      subject:
        type: int
        valid_values: [1, 2]
      selection:
        required: true
        order: [roi]
        properties:
          roi:
            type: string
            valid_values: [V1, V2]
    input:
      name: images
      shape: [images, channels, height, width]
      dtype: uint8
      value_range: [0, 255]
    output:
      - name: responses
        shape: [images, voxels]
        dtype: float32
    encoder:
      kind: css_prf
      settings: {}
    artifacts:
      - name: weights
        source: berg-bucket
        path: \(StoreTestCase.weightsTemplate)
    """

    func run(_ binary: URL, _ arguments: [String], environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return process
    }

    /// A registry folder with the test manifest.
    func makeRegistry() throws -> URL {
        let registry = work.appendingPathComponent("registry")
        try FileManager.default.createDirectory(at: registry, withIntermediateDirectories: true)
        try GetModelCommandTests.manifestYAML.write(to: registry.appendingPathComponent("store-test-model.yaml"), atomically: true, encoding: .utf8)
        return registry
    }

    /// Runs `berg` to the end: exit status, stdout, stderr.
    func berg(_ arguments: [String], environment: [String: String]) throws -> (Int32, String, String) {
        guard let binary = bergBinary else { throw XCTSkip("no berg executable with get-model is built") }
        let process = try run(binary, arguments, environment: environment)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr)
    }

    func testDryRunListsEveryFileOfTheSubjectWithSizesAndFetchesNothing() throws {
        let registry = try makeRegistry()
        let server = try startServer()
        try serve(weightsPath(subject: 1, roi: "V1"), sampleBytes(1111, seed: 41))
        try serve(weightsPath(subject: 1, roi: "V2"), sampleBytes(2222, seed: 42))
        let environment = ["BERG_HOME": home.path, "BERG_MIRROR": server.base("ok").absoluteString]
        let (status, stdout, stderr) = try berg(["get-model", "store-test-model", "--registry", registry.path, "--subject", "1", "--dry-run"],
                                                environment: environment)
        XCTAssertEqual(status, 0, stderr)
        let lines = stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, stdout)
        XCTAssertTrue(lines[0].hasPrefix(home.path + "/brain-encoding-response-generator/" + weightsPath(subject: 1, roi: "V1")) && lines[0].contains("1.1 kB"), lines[0])
        XCTAssertTrue(lines[1].contains(weightsPath(subject: 1, roi: "V2")) && lines[1].contains("2.2 kB"), lines[1])
        XCTAssertTrue(lines[2].contains("2 to download"), lines[2])
        XCTAssertEqual(server.requests().map(\.method), ["HEAD", "HEAD"])
        XCTAssertEqual(files(under: home), [])
    }

    func testGetModelThenCacheListVerifyAndClean() throws {
        let registry = try makeRegistry()
        let server = try startServer()
        let bytes = try serve(weightsPath(subject: 2, roi: "V2"), sampleBytes(3000, seed: 43))
        let environment = ["BERG_HOME": home.path, "BERG_MIRROR": server.base("ok").absoluteString]
        let local = home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath(subject: 2, roi: "V2"))

        var (status, stdout, stderr) = try berg(["get-model", "store-test-model", "--registry", registry.path, "--subject", "2", "--roi", "V2"], environment: environment)
        XCTAssertEqual(status, 0, stderr)
        XCTAssertEqual(stdout, local.path + "\n")
        XCTAssertEqual(try Data(contentsOf: local), bytes)

        (status, stdout, stderr) = try berg(["cache", "list", "--registry", registry.path], environment: environment)
        XCTAssertEqual(status, 0, stderr)
        XCTAssertTrue(stdout.contains("store-test-model\t1 file(s)\t3.0 kB"), stdout)

        (status, stdout, _) = try berg(["cache", "verify", "--registry", registry.path, "store-test-model"], environment: environment)
        XCTAssertEqual(status, 0)
        XCTAssertTrue(stdout.hasPrefix("ok\t"), stdout)
        var tampered = bytes
        tampered[10] ^= 0xFF
        try tampered.write(to: local)
        (status, stdout, stderr) = try berg(["cache", "verify", "--registry", registry.path], environment: environment)
        XCTAssertEqual(status, 1)
        XCTAssertTrue(stdout.hasPrefix("CHANGED\t") && stdout.contains("pins.json"), stdout)
        XCTAssertTrue(stderr.hasPrefix("error: "), stderr)

        (status, stdout, stderr) = try berg(["cache", "clean", "--registry", registry.path, "store-test-model"], environment: environment)
        XCTAssertEqual(status, 0, stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: local.path))

        // Offline, the missing file is one `error:` line naming it, and the server is not asked.
        let before = server.requests().count
        (status, _, stderr) = try berg(["get-model", "store-test-model", "--registry", registry.path, "--subject", "2", "--roi", "V2"],
                                       environment: environment.merging(["BERG_OFFLINE": "1"]) { $1 })
        XCTAssertEqual(status, 1)
        XCTAssertTrue(stderr.hasPrefix("error: ") && stderr.contains(weightsPath(subject: 2, roi: "V2")), stderr)
        XCTAssertEqual(server.requests().count, before)
    }

    func testTwoProcessesDownloadOnceAndEndWithOneCorrectFile() throws {
        guard let berg = bergBinary else { throw XCTSkip("no berg executable with get-model is built") }
        let registry = try makeRegistry()
        let server = try startServer()
        let bytes = try serve(weightsPath(subject: 2, roi: "V1"), sampleBytes(150_000, seed: 31))
        let environment = ["BERG_HOME": home.path, "BERG_MIRROR": server.base("delay").absoluteString]
        let arguments = ["get-model", "store-test-model", "--registry", registry.path, "--subject", "2", "--roi", "V1"]

        var outputs: [(Process, Pipe, Pipe)] = []
        for _ in 0..<2 {
            let process = try run(berg, arguments, environment: environment)
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            outputs.append((process, out, err))
        }
        var printed: [String] = []
        var messages = ""
        for (process, out, err) in outputs {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            messages += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, messages)
            printed.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let expected = home.appendingPathComponent("brain-encoding-response-generator/" + weightsPath(subject: 2, roi: "V1"))
        XCTAssertEqual(printed, [expected.path, expected.path])
        XCTAssertEqual(try Data(contentsOf: expected), bytes)
        XCTAssertEqual(server.requests(for: weightsPath(subject: 2, roi: "V1")).count, 1, "one download for both processes")
        XCTAssertTrue(messages.contains("Waiting for another process"), messages)
        XCTAssertFalse(FileManager.default.fileExists(atPath: expected.path + ".part"))
    }
}
