import BERGStore
import Foundation
import XCTest

/// Two `berg get-model` processes asking for the same file at once: one downloads, the other
/// waits on the lock, and both print the same, correct file.
final class ConcurrentProcessTests: StoreTestCase {
    /// The `berg` built beside this test bundle, or nil when it has not been built.
    var bergBinary: URL? {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let folders = [testBinary.deletingLastPathComponent(), Bundle.main.bundleURL,
                       Bundle(for: ConcurrentProcessTests.self).bundleURL.deletingLastPathComponent()]
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

    func testTwoProcessesDownloadOnceAndEndWithOneCorrectFile() throws {
        guard let berg = bergBinary else { throw XCTSkip("no berg executable with get-model is built") }
        let registry = work.appendingPathComponent("registry")
        try FileManager.default.createDirectory(at: registry, withIntermediateDirectories: true)
        try ConcurrentProcessTests.manifestYAML.write(to: registry.appendingPathComponent("store-test-model.yaml"), atomically: true, encoding: .utf8)
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
