import BERGCore
import BERGRegistry
import BERGStore
import BERGTestSupport
import Foundation
import XCTest

/// Shared set-up: a scratch folder with a served tree (`served/`, in BERG's bucket layout), a
/// cache (`home/`), and helpers to write manifests and files.
class StoreTestCase: XCTestCase {
    var work: URL!
    var served: URL { work.appendingPathComponent("served") }
    var home: URL { work.appendingPathComponent("home") }
    private var servers: [FaultyHTTPServer] = []

    static let weightsFolder = "encoding_models/modality-fmri/train_dataset-nsd/model-fwrf/encoding_models_weights"
    static let weightsTemplate = weightsFolder + "/weights_sub-{subject:02}_roi-{roi}.pt"

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("berg-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        servers.forEach { $0.stop() }
        servers = []
        try? FileManager.default.removeItem(at: work)
    }

    func startServer() throws -> FaultyHTTPServer {
        let server = try FaultyHTTPServer(root: served, workFolder: work)
        servers.append(server)
        return server
    }

    /// Deterministic bytes that no two sizes or seeds share.
    func sampleBytes(_ count: Int, seed: UInt64 = 1) -> Data {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        var data = Data(count: count)
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            data[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        return data
    }

    @discardableResult
    func serve(_ path: String, _ data: Data) throws -> Data {
        let url = served.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
        return data
    }

    /// The bucket path of the fwRF weights for a subject and ROI.
    func weightsPath(subject: Int = 1, roi: String = "V1") -> String {
        Manifest.expand(StoreTestCase.weightsTemplate, subject: Subject(subject), selection: ["roi": roi])
    }

    /// A minimal valid manifest with the given artifacts (JSON-like dictionaries).
    func manifest(id: String = "test-model", artifacts: [[String: Any]], subjects: [Int] = [1, 2],
                  rois: [String] = ["V1", "V2"]) throws -> Manifest {
        let object: [String: Any] = [
            "model_id": id, "version": "1", "modality": "fmri", "training_dataset": "nsd", "species": "human",
            "stimuli": "images", "model_type": "test", "creator": "tests", "license": "MIT", "description": "test",
            "references": [],
            "parameters": [
                "subject": ["type": "int", "valid_values": subjects],
                "selection": ["required": true, "properties": ["roi": ["type": "string", "valid_values": rois]]],
            ],
            "input": ["name": "images", "shape": ["batch", "3", "h", "w"], "dtype": "uint8"],
            "output": [],
            "encoder": ["kind": "test", "settings": [String: Any]()],
            "artifacts": artifacts,
        ]
        let data = try JSONSerialization.data(withJSONObject: object)
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    func weightsManifest(sha256: String? = nil) throws -> Manifest {
        var artifact: [String: Any] = ["name": "weights", "source": "berg-bucket", "path": StoreTestCase.weightsTemplate]
        if let sha256 { artifact["sha256"] = sha256 }
        return try manifest(artifacts: [artifact])
    }

    func options(mirror: URL?, offline: Bool = false, attempts: Int = 3) -> StoreOptions {
        StoreOptions(offline: offline, mirror: mirror, maxAttempts: attempts, retryBaseDelay: 0.05,
                     connectTimeout: 5, lowSpeedLimit: 1000, lowSpeedTime: 2)
    }

    /// Runs a Python snippet with arguments; fails the test when it fails.
    @discardableResult
    func python(_ code: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", code] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 failed")
        return text
    }

    /// Every file under `folder`, as relative paths.
    func files(under folder: URL) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }

    func assertThrows<T>(_ expression: @autoclosure () throws -> T, _ check: (BERGError) -> Void,
                         file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as BERGError {
            check(error)
        } catch {
            XCTFail("expected a BERGError, got \(error)", file: file, line: line)
        }
    }
}
