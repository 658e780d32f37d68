import BERG
import BERGFormats
import BERGStore
import Foundation
import XCTest

/// Encodes from several threads at once, on one model and on different ones, while another
/// thread changes the thread count, give the serial results bit for bit. Nothing in the library
/// changes process-wide state behind a caller's back, so there is nothing for two encodes to
/// fight over; `make test-tsan` runs this test under Thread Sanitizer.
final class ConcurrentEncodeTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("concurrent-encode-\(UUID().uuidString)")
        // The fwRF fixture BERG directory of BERGModelsTests (Tools/reference/make_fwrf_fixtures.py).
        let archive = Self.repository.appendingPathComponent("Tests/BERGModelsTests/Fixtures/fwrf/berg_dir.tar.xz")
        try ArchiveExtractor.extract(archive, into: scratch)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
        try BERG.configureThreads(nil)
    }

    func images(_ side: Int) throws -> Stimulus {
        let t = try NPYFile.read(scratch.appendingPathComponent("berg_dir/images_\(side).npy").path)
        guard case .uint8(let bytes) = t.storage, t.rank == 4 else { throw BERGError.invalidInput("fixture images are not uint8 [N,3,H,W]") }
        return try Stimulus(images: bytes, count: t.shape[0], height: t.shape[2], width: t.shape[3])
    }

    func testConcurrentEncodesGiveTheSerialResultsBitForBit() throws {
        let fwrf = try BERG(home: scratch.appendingPathComponent("home"),
                            storeOptions: StoreOptions(bergDir: scratch.appendingPathComponent("berg_dir"), offline: true))
        let builtIn = try BERG(home: scratch.appendingPathComponent("home"), storeOptions: StoreOptions(offline: true))
        let v1 = try fwrf.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "V1"])
        let lateral = try fwrf.getEncodingModel("fmri-nsd-fwrf", subject: 1, selection: ["roi": "lateral"])
        let prf = try builtIn.getEncodingModel("fmri-kay2013-css_prf", subject: 1, selection: ["roi": "V1"])
        let (large, small) = (try images(233), try images(160))
        // Two jobs share each fwRF model object; batches of 2 split the 3 images unevenly.
        let jobs: [(BERG, any EncodingModel, Stimulus)] = [
            (fwrf, v1, large), (fwrf, v1, small), (fwrf, lateral, large), (fwrf, lateral, small), (builtIn, prf, large), (builtIn, prf, small),
        ]
        let serial = try jobs.map { berg, model, stimulus in try berg.encode(model, stimulus, batchSize: 2).responses }

        let rounds = 2
        let concurrent = Locked<[(job: Int, responses: [String: Tensor])]>([])
        let failures = Locked<[String]>([])
        let stopChanging = Locked(false)
        // One thread keeps changing the process's thread count while the encodes run: no
        // encode may see a half-changed setting or depend on the count.
        let changer = Thread {
            var n = 1
            while !stopChanging.value {
                try? BERG.configureThreads(n)
                n = n % 3 + 1
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        changer.start()
        let work = UncheckedJobs(jobs)
        DispatchQueue.concurrentPerform(iterations: jobs.count * rounds) { k in
            let job = k % work.jobs.count
            let (berg, model, stimulus) = work.jobs[job]
            do {
                let responses = try berg.encode(model, stimulus, batchSize: 2).responses
                concurrent.update { $0.append((job, responses)) }
            } catch {
                failures.update { $0.append("job \(job): \(error)") }
            }
        }
        stopChanging.update { $0 = true }
        while !changer.isFinished { Thread.sleep(forTimeInterval: 0.001) }

        XCTAssertEqual(failures.value, [])
        XCTAssertEqual(concurrent.value.count, jobs.count * rounds)
        for (job, responses) in concurrent.value {
            XCTAssertEqual(Set(responses.keys), Set(serial[job].keys), "job \(job)")
            for (name, tensor) in serial[job] {
                let got = try XCTUnwrap(responses[name], "job \(job): \(name)")
                XCTAssertEqual(got.shape, tensor.shape, "job \(job): \(name)")
                let differing = zip(got.floats, tensor.floats).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                if BERG.computeBackends.contains(where: { $0.hasPrefix("oneDNN") }) {
                    XCTAssertEqual(differing, 0, "job \(job): \(name) differs from the serial encode in \(differing) values")
                } else {
                    // OpenBLAS alone: its kernels' sums follow the thread count in the last bits (BackendTests).
                    let scale = tensor.floats.map(abs).max() ?? 1
                    let worst = zip(got.floats, tensor.floats).map { abs($0.0 - $0.1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-6 * max(scale, 1e-6), "job \(job): \(name)")
                }
            }
        }
    }
}

/// A value several threads read and change, under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func update(_ change: (inout Value) -> Void) { lock.lock(); change(&stored); lock.unlock() }
}

/// The jobs, shared read-only by the encoding threads (models and facades are Sendable; the tuple is not).
struct UncheckedJobs: @unchecked Sendable {
    let jobs: [(BERG, any EncodingModel, Stimulus)]
    init(_ jobs: [(BERG, any EncodingModel, Stimulus)]) { self.jobs = jobs }
}
