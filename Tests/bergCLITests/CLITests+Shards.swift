import BERG
import BERGFormats
import BERGStore
import BERGTestSupport
import Foundation
import XCTest

/// `berg plan`, `berg run-task`, `berg status`, `berg merge` and `berg encode --shard`, run as
/// processes without Slurm (`make test-slurm` runs them under a real one).
extension CLITests {
    /// The retinotopy stimuli (32 PNGs of one size) as a folder.
    func writeStimuli(size: Int = 64) throws -> URL {
        let folder = work.appendingPathComponent("stimuli")
        XCTAssertEqual(try berg("stimuli", "retinotopy", "--size", String(size), "--output", folder.path).status, 0)
        return folder
    }

    /// The fwRF fixture BERG directory, with subject 2's files copied from subject 1's.
    func fwrfBergDir() throws -> URL {
        let fixtures = CLITests.root.appendingPathComponent("Tests/BERGModelsTests/Fixtures/fwrf")
        try ArchiveExtractor.extract(fixtures.appendingPathComponent("berg_dir.tar.xz"), into: work)
        return work.appendingPathComponent("berg_dir")
    }

    /// Every response array of an .h5 file, by dataset path, as raw float bits.
    func responseBits(_ path: String, group: String = "") throws -> [String: [UInt32]] {
        let file = try HDF5File(path: path, mode: .read)
        defer { try? file.close() }
        let prefix = group.isEmpty ? "" : group + "/"
        let names = try file.kind(of: prefix + "responses") == .dataset
            ? [prefix + "responses"] : try file.children(of: prefix + "responses").map { prefix + "responses/\($0)" }
        var bits: [String: [UInt32]] = [:]
        for name in names { bits[String(name.dropFirst(prefix.count))] = try file.read(name).floats.map(\.bitPattern) }
        return bits
    }

    func strings(_ path: String, _ dataset: String) throws -> [String] {
        let file = try HDF5File(path: path, mode: .read)
        defer { try? file.close() }
        return try file.readStrings(dataset)
    }

    func testPlanRunTasksStatusAndMergeEqualASingleEncodeBitForBit() throws {
        let stimuli = try writeStimuli()
        let out = work.appendingPathComponent("out")
        let plan = try berg("plan", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--roi", "V2",
                            "--input", stimuli.path, "--shards", "3", "--batch-size", "5", "--output-dir", out.path,
                            "--sbatch-option", "partition=short", "--sbatch-option", "--account=lab")
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(plan.stdout.contains("planned 6 tasks"), plan.stdout)
        XCTAssertTrue(plan.stdout.hasSuffix("sbatch \(out.path)/berg-array.sbatch\n"), plan.stdout)

        let script = try String(contentsOf: out.appendingPathComponent("berg-array.sbatch"), encoding: .utf8)
        for line in ["#SBATCH --array=0-5", "#SBATCH --cpus-per-task=1", "#SBATCH --partition=short", "#SBATCH --account=lab"] {
            XCTAssertTrue(script.contains(line + "\n"), "\(line) in\n\(script)")
        }
        XCTAssertTrue(script.contains("#SBATCH --mem="), script)
        XCTAssertTrue(script.contains("run-task \(out.path)/plan.json \"$SLURM_ARRAY_TASK_ID\""), script)

        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("plan.json"))) as? [String: Any])
        let files = try XCTUnwrap(json["files"] as? [[String: Any]])
        XCTAssertEqual(files.count, 32)
        let first = try XCTUnwrap(files.first)
        XCTAssertEqual(first["path"] as? String, stimuli.appendingPathComponent("bar-x-0.png").path, "sorted by name")
        XCTAssertEqual(first["sha256"] as? String, try sha256sum(stimuli.appendingPathComponent("bar-x-0.png")))
        XCTAssertEqual((json["tasks"] as? [[String: Any]])?.map { $0["output"] as? String },
                       ["shards/1_V1_1-of-3.h5", "shards/1_V1_2-of-3.h5", "shards/1_V1_3-of-3.h5",
                        "shards/1_V2_1-of-3.h5", "shards/1_V2_2-of-3.h5", "shards/1_V2_3-of-3.h5"])

        // Half the tasks: status lists the rest and the line that reruns them.
        for index in [0, 2, 4] { XCTAssertEqual(try berg("run-task", out.appendingPathComponent("plan.json").path, String(index)).status, 0) }
        let partial = try berg("status", out.path)
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertTrue(partial.stdout.contains("done     3\n"), partial.stdout)
        XCTAssertTrue(partial.stdout.contains("missing  3\n"), partial.stdout)
        XCTAssertTrue(partial.stdout.hasSuffix("sbatch --array=1,3,5 \(out.path)/berg-array.sbatch\n"), partial.stdout)
        let refused = try berg("merge", out.path)
        XCTAssertEqual(refused.status, 1)
        let lines = refused.stderr.split(separator: "\n")
        for name in ["1_V1_2-of-3", "1_V2_1-of-3", "1_V2_3-of-3"] {
            XCTAssertEqual(lines.filter { $0.hasPrefix("error: missing: shards/\(name).h5") }.count, 1, refused.stderr)
        }

        // A done task is skipped, and its output is left as it was.
        let shard = out.appendingPathComponent("shards/1_V1_1-of-3.h5")
        let written = try FileManager.default.attributesOfItem(atPath: shard.path)[.modificationDate] as? Date
        let again = try berg("run-task", out.path, "0")
        XCTAssertTrue(again.stderr.contains("already done, skipped"), again.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: shard.path)[.modificationDate] as? Date, written)

        for index in [1, 3, 5] { XCTAssertEqual(try berg("run-task", out.path, String(index)).status, 0) }
        XCTAssertTrue(try berg("status", out.path).stdout.contains("all 6 tasks are done"))
        let merged = try berg("merge", out.path)
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(merged.stdout, "\(out.path)/1_V1.h5\n\(out.path)/1_V2.h5\n")

        for roi in ["V1", "V2"] {
            let single = work.appendingPathComponent("single_\(roi).h5").path
            XCTAssertEqual(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", roi, "--input", stimuli.path,
                                    "--batch-size", "5", "--output", single).status, 0)
            let mergedPath = out.appendingPathComponent("1_\(roi).h5").path
            XCTAssertEqual(try responseBits(mergedPath), try responseBits(single), roi)
            XCTAssertEqual(try strings(mergedPath, "stimulus_names"), try strings(single, "stimulus_names"))
        }
        // One file with a group per (subject, selection).
        let together = work.appendingPathComponent("together.h5").path
        XCTAssertEqual(try berg("merge", out.path, "--output", together).status, 0)
        XCTAssertEqual(try responseBits(together, group: "1_V2"), try responseBits(out.appendingPathComponent("1_V2.h5").path))
    }

    /// fwRF's GEMMs give other last bits in other batch shapes; shards that start inside a
    /// batch encode the whole batch, so merged and single runs still agree bit for bit.
    func testFWRFShardsInsideBatchesMergeToTheSingleRunBitForBit() throws {
        let bergDir = try fwrfBergDir()
        let images = bergDir.appendingPathComponent("images_233.npy").path
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]
        let out = work.appendingPathComponent("out")
        XCTAssertEqual(try berg("plan", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--berg-dir", bergDir.path,
                                "--input", images, "--shards", "3", "--batch-size", "2", "--output-dir", out.path,
                                environment: environment).status, 0)
        for index in 0..<3 {
            let run = try berg("run-task", out.path, String(index), environment: environment)
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        XCTAssertEqual(try berg("merge", out.path, environment: environment).status, 0)
        let single = work.appendingPathComponent("V1.h5").path
        XCTAssertEqual(try berg("encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--berg-dir", bergDir.path,
                                "--input", images, "--batch-size", "2", "--output", single, environment: environment).status, 0)
        XCTAssertEqual(try responseBits(out.appendingPathComponent("1_V1.h5").path), try responseBits(single))
        // `encode --shard 2/3` is the middle image of the same run.
        let middle = work.appendingPathComponent("middle.h5").path
        XCTAssertEqual(try berg("encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--berg-dir", bergDir.path,
                                "--input", images, "--batch-size", "2", "--shard", "2/3", "--output", middle, environment: environment).status, 0)
        XCTAssertEqual(try responseBits(middle)["responses"], Array(try responseBits(single)["responses"]![5..<10]))
        XCTAssertEqual(try strings(middle, "stimulus_names"), ["images_233[1]"])
    }

    func testPlanRefusesUnreadableImagesUnknownModelsAndBadFlagsBeforeAnyTask() throws {
        let images = try writeImages()
        try Data("not a png".utf8).write(to: images.appendingPathComponent("d-broken.png"))
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: images.appendingPathComponent("e-truncated.png"))
        let out = work.appendingPathComponent("out").path
        func plan(_ extra: String...) throws -> Run {
            try berg(["plan", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                      "--shards", "2", "--output-dir", out] + extra)
        }
        let unreadable = try plan()
        assertFails(unreadable, status: 2, mentioning: "2 of 5 images cannot be read")
        XCTAssertTrue(unreadable.stderr.contains("d-broken.png") && unreadable.stderr.contains("e-truncated.png"), unreadable.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/plan.json"))

        try FileManager.default.removeItem(at: images.appendingPathComponent("d-broken.png"))
        try FileManager.default.removeItem(at: images.appendingPathComponent("e-truncated.png"))
        assertFails(try berg("plan", "fmri-nope", "--subject", "1", "--input", images.path, "--shards", "2", "--output-dir", out),
                    status: 2, mentioning: "Unknown model 'fmri-nope'")
        assertFails(try berg("plan", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V9", "--input", images.path,
                             "--shards", "2", "--output-dir", out), status: 2, mentioning: "V1, V2, V3, hV4")
        assertFails(try plan("--shards", "4"), status: 2, mentioning: "between 1 and the number of images (3")
        assertFails(try plan("--all-subjects"), status: 2, mentioning: "--all-subjects")
        assertFails(try plan("--sbatch-option", "--array=0-9"), status: 2, mentioning: "writes --array itself")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/plan.json"))

        // --all-subjects and --all-rois expand from the manifest.
        let all = try berg("plan", "fmri-kay2013-css_prf", "--all-subjects", "--all-rois", "--input", images.path,
                           "--shards", "3", "--output-dir", out)
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertTrue(all.stdout.contains("planned 12 tasks"), all.stdout)
        assertFails(try berg("run-task", out, "12"), status: 2, mentioning: "tasks 0–11")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                             "--shard", "4/3", "--output", work.appendingPathComponent("x.h5").path), status: 2, mentioning: "1 ≤ K ≤ N")
        assertFails(try berg("encode", "fmri-kay2013-css_prf", "--subject", "1", "--roi", "V1", "--input", images.path,
                             "--shard", "4/4", "--output", work.appendingPathComponent("x.h5").path), status: 2, mentioning: "too few for 4 shards")
    }

    func testMergeNamesMissingForeignAndMisshapenShardsOneLineEach() throws {
        let bergDir = try fwrfBergDir()
        let images = bergDir.appendingPathComponent("images_233.npy").path
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]
        func plan(_ folder: String, batch: String) throws {
            XCTAssertEqual(try berg("plan", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--roi", "lateral",
                                    "--berg-dir", bergDir.path, "--input", images, "--shards", "3", "--batch-size", batch,
                                    "--output-dir", work.appendingPathComponent(folder).path, environment: environment).status, 0)
        }
        try plan("a", batch: "1")
        try plan("b", batch: "3")
        for index in [0, 1, 3, 4] { XCTAssertEqual(try berg("run-task", work.appendingPathComponent("a").path, String(index), environment: environment).status, 0) }
        XCTAssertEqual(try berg("run-task", work.appendingPathComponent("b").path, "2", environment: environment).status, 0)
        let shards = work.appendingPathComponent("a/shards")
        // Plan b's shard in plan a's place, and lateral's (7 voxels) where V1's (5) belongs.
        try FileManager.default.copyItem(at: work.appendingPathComponent("b/shards/1_V1_3-of-3.h5"), to: shards.appendingPathComponent("1_V1_3-of-3.h5"))
        try FileManager.default.removeItem(at: shards.appendingPathComponent("1_V1_2-of-3.h5"))
        try FileManager.default.copyItem(at: shards.appendingPathComponent("1_lateral_2-of-3.h5"), to: shards.appendingPathComponent("1_V1_2-of-3.h5"))

        let merge = try berg("merge", work.appendingPathComponent("a").path, environment: environment)
        XCTAssertEqual(merge.status, 1)
        let lines = merge.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("error: ") }, merge.stderr)
        XCTAssertEqual(lines.filter { $0.contains("shards/1_V1_3-of-3.h5") && $0.contains("comes from another plan") }.count, 1, merge.stderr)
        XCTAssertEqual(lines.filter { $0.contains("shape mismatch: shards/1_V1_2-of-3.h5 holds responses [1, 7]") }.count, 1, merge.stderr)
        XCTAssertEqual(lines.filter { $0.contains("missing: shards/1_lateral_3-of-3.h5") }.count, 1, merge.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("a/1_V1.h5").path), "nothing written")

        // Status counts the foreign shard as missing, with why, and reruns it.
        let status = try berg("status", work.appendingPathComponent("a").path)
        XCTAssertTrue(status.stdout.contains("2 1_V1_3-of-3: shards/1_V1_3-of-3.h5 comes from another plan"), status.stdout)
        XCTAssertTrue(status.stdout.contains("sbatch --array=2,5 "), status.stdout)
    }

    /// A task stopped by SIGTERM (what scancel and preemption send) is reported as failed,
    /// leaves no output, and reruns cleanly; so does one whose input changed since the plan.
    func testStoppedAndFailedTasksAreReportedAndRerun() throws {
        let bergDir = try fwrfBergDir()
        let images = work.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let stimuli = try writeStimuli(size: 96)
        for name in try FileManager.default.contentsOfDirectory(atPath: stimuli.path).sorted().prefix(12) {
            try FileManager.default.copyItem(at: stimuli.appendingPathComponent(name), to: images.appendingPathComponent(name))
        }
        let environment = ["BERG_HOME": work.appendingPathComponent("home").path, "BERG_OFFLINE": "1"]
        let out = work.appendingPathComponent("out")
        XCTAssertEqual(try berg("plan", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--berg-dir", bergDir.path,
                                "--input", images.path, "--shards", "2", "--output-dir", out.path, environment: environment).status, 0)

        // Task 0, stopped once its running marker appears (SIGSTOP first, so that it cannot finish before SIGTERM).
        let process = Process()
        process.executableURL = try CLITests.binary()
        process.arguments = ["run-task", out.path, "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = FileHandle.nullDevice
        try process.run()
        let marker = out.appendingPathComponent("tasks/0.running").path
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: marker) && process.isRunning && Date() < deadline { usleep(20_000) }
        kill(process.processIdentifier, SIGSTOP)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the task marks itself running")
        kill(process.processIdentifier, SIGTERM)
        kill(process.processIdentifier, SIGCONT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("shards").path), [], "no output, not even a temporary one")

        // Task 1's images changed after the plan.
        try FileManager.default.copyItem(at: stimuli.appendingPathComponent("wedge-0.png"), to: images.appendingPathComponent("zz-new.png"))
        let changed = try berg("run-task", out.path, "1", environment: environment)
        assertFails(changed, status: 1, mentioning: "changed since `berg plan`")
        try FileManager.default.removeItem(at: images.appendingPathComponent("zz-new.png"))

        let status = try berg("status", out.path)
        XCTAssertTrue(status.stdout.contains("failed   2\n"), status.stdout)
        XCTAssertTrue(status.stdout.contains("  0 1_V1_1-of-2: stopped by SIGTERM"), status.stdout)
        XCTAssertTrue(status.stdout.contains("  1 1_V1_2-of-2: The input"), status.stdout)
        XCTAssertTrue(status.stdout.hasSuffix("sbatch --array=0-1 \(out.path)/berg-array.sbatch\n"), status.stdout)

        for index in ["0", "1"] { XCTAssertEqual(try berg("run-task", out.path, index, environment: environment).status, 0) }
        XCTAssertTrue(try berg("status", out.path).stdout.contains("all 2 tasks are done"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("tasks").path), [], "markers cleared")
    }

    /// Many tasks of one plan at once, on one empty BERG_HOME, fetching the model from a
    /// loopback server: each file is downloaded once (the store's locks), every task succeeds,
    /// and the merge equals a single run on the fixture directory.
    /// Shards of the ViT models: an EEG plan merges with its channel names and times, as a
    /// single `.h5` holds them; `encode --shard` to `.npz` and `--surface` gives each shard's rows
    /// of the single run; `berg merge` writes only `.h5` and says so.
    func testShardsKeepLabelsAndNPZAndSurfaceShardsAreTheSingleRunsRows() throws {
        let (dir, flags, environment) = try vitBergDir()
        let eeg = ["eeg-things_eeg_2-vit_b_32", "--subject", "1", "--select", "channels=Oz,Cz,Fp1",
                   "--input", dir.appendingPathComponent("images_240x300.npy").path, "--batch-size", "1"] + flags
        let out = work.appendingPathComponent("eeg")
        let plan = try berg(environment: environment, ["plan"] + eeg + ["--shards", "2", "--output-dir", out.path])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        for index in ["0", "1"] { XCTAssertEqual(try berg("run-task", out.path, index, environment: environment).status, 0) }
        let merged = work.appendingPathComponent("eeg-merged.h5").path
        let merge = try berg("merge", out.path, "--output", merged, environment: environment)
        XCTAssertEqual(merge.status, 0, merge.stderr)
        let single = work.appendingPathComponent("eeg-single.h5").path
        XCTAssertEqual(try bergEncode(eeg + ["--output", single], environment: environment).status, 0)
        XCTAssertEqual(try responseBits(merged), try responseBits(single))
        XCTAssertEqual(try strings(merged, "ch_names"), ["Oz", "Cz", "Fp1"])
        let read = { (path: String) throws -> [Double] in
            let file = try HDF5File(path: path, mode: .read)
            defer { try? file.close() }
            return try file.read("times").doubles
        }
        XCTAssertEqual(try read(merged), try read(single))
        XCTAssertFalse(try read(merged).isEmpty)
        assertFails(try berg("merge", out.path, "--output", work.appendingPathComponent("eeg.npz").path, environment: environment),
                    status: 2, mentioning: "name it .h5")

        // fsaverage: two shards, each to .npz and GIfTI, hold rows 0 and 1 of the single run.
        let fsaverage = ["fmri-nsd_fsaverage-vit_b_32", "--subject", "1", "--roi", "V1v",
                         "--input", dir.appendingPathComponent("images_256.npy").path, "--batch-size", "1"] + flags
        func encode(_ name: String, _ extra: [String] = []) throws -> [String: Tensor] {
            let prefix = work.appendingPathComponent(name).path
            let run = try bergEncode(fsaverage + extra + ["--output", prefix + ".npz", "--surface", prefix], environment: environment)
            XCTAssertEqual(run.status, 0, run.stderr)
            return try NPZFile.read(prefix + ".npz")
        }
        let whole = try encode("fs")
        let shards = try ["1/2", "2/2"].map { try encode("fs-\($0.prefix(1))", ["--shard", $0]) }
        for side in ["lh", "rh"] {
            let rows = try XCTUnwrap(whole[side])
            let width = rows.shape[1]
            XCTAssertEqual(rows.shape[0], 2)
            for (k, shard) in shards.enumerated() {
                XCTAssertEqual(shard[side]?.shape, [1, width])
                XCTAssertEqual(shard[side]?.floats.map(\.bitPattern), rows.floats[k * width ..< (k + 1) * width].map(\.bitPattern), side)
                let gifti = try String(contentsOfFile: work.appendingPathComponent("fs-\(k + 1).\(side).func.gii").path, encoding: .utf8)
                XCTAssertTrue(gifti.contains(#"NumberOfDataArrays="1""#), side)
                XCTAssertTrue(gifti.contains("images_256[\(k)]"), "shard \(k + 1) names its own image")
            }
        }
    }

    func testConcurrentTasksDownloadEachModelFileOnce() throws {
        let bergDir = try fwrfBergDir()
        let images = bergDir.appendingPathComponent("images_233.npy").path
        let server = try FaultyHTTPServer(root: bergDir, workFolder: work)
        defer { server.stop() }
        let home = work.appendingPathComponent("home")
        let environment = ["BERG_HOME": home.path, "BERG_MIRROR": server.base("delay").absoluteString, "BERG_NUM_THREADS": "1"]
        let out = work.appendingPathComponent("out")
        let plan = try berg("plan", "fmri-nsd-fwrf", "--subject", "1", "--roi", "V1", "--roi", "lateral", "--input", images,
                            "--shards", "3", "--output-dir", out.path, environment: environment)
        XCTAssertEqual(plan.status, 0, plan.stderr)
        XCTAssertTrue(server.requests().filter { $0.method == "GET" }.isEmpty, "planning downloads nothing")

        let processes = try (0..<6).map { index -> (Process, Pipe) in
            let process = Process()
            process.executableURL = try CLITests.binary()
            process.arguments = ["run-task", out.path, String(index)]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            return (process, errors)
        }
        for (process, errors) in processes {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, text)
        }
        let gets = server.requests().filter { $0.method == "GET" }
        let files = ["weights_sub-01_roi-V1.pt", "weights_sub-01_roi-lateral_split-1.pt", "weights_sub-01_roi-lateral_split-2.pt",
                     "metadata_sub-01_roi-V1.npy", "metadata_sub-01_roi-lateral.npy"]
        for file in files {
            XCTAssertEqual(gets.filter { $0.path.hasSuffix("/" + file) && $0.range == nil }.count, 1, "\(file): \(gets.map(\.path))")
        }
        XCTAssertEqual(Set(gets.map(\.path)).count, files.count, "nothing else fetched: \(gets.map(\.path))")

        XCTAssertEqual(try berg("merge", out.path, environment: environment).status, 0)
        let single = work.appendingPathComponent("lateral.h5").path
        XCTAssertEqual(try berg("encode", "fmri-nsd-fwrf", "--subject", "1", "--roi", "lateral", "--berg-dir", bergDir.path,
                                "--input", images, "--output", single, environment: ["BERG_HOME": home.path, "BERG_NUM_THREADS": "1"]).status, 0)
        XCTAssertEqual(try responseBits(out.appendingPathComponent("1_lateral.h5").path), try responseBits(single))
    }
}
