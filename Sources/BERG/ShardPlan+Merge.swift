import BERGCore
import BERGFormats
import Foundation

/// `berg merge`: every shard checked, then each (subject, selection)'s shards joined in input
/// order. The response arrays are the shards' float32 rows, copied bit for bit; the units'
/// labels (an EEG model's `ch_names` and `times`) are kept.
extension ShardPlan {
    /// Why the shards cannot be merged yet, one line per problem: a missing shard, a shard
    /// from another plan or with the wrong number of rows, or shards of one output whose
    /// response shapes disagree. Empty when they can be merged.
    public func mergeProblems() -> [String] {
        var problems: [String] = []
        for output in outputs {
            var first: (task: ShardTask, shapes: [String: [Int]])? = nil
            for task in output.tasks {
                let what = "\(task.output) (task \(task.index): subject \(task.subject), \(Selection(task.selection)), shard \(task.shard) of \(shards))"
                switch checkOutput(task) {
                case .absent:
                    problems.append("missing: \(what)")
                case .unusable(let why):
                    problems.append("\(what) \(why)")
                case .complete(let shapes):
                    guard let reference = first else { first = (task, shapes); continue }
                    let trailing = { (s: [String: [Int]]) in s.mapValues { Array($0.dropFirst()) } }
                    if trailing(shapes) != trailing(reference.shapes) {
                        problems.append("shape mismatch: \(task.output) holds \(ShardPlan.describe(shapes)), but \(reference.task.output) holds \(ShardPlan.describe(reference.shapes))")
                    }
                }
            }
        }
        return problems
    }

    static func describe(_ shapes: [String: [Int]]) -> String {
        shapes.keys.sorted().map { "\($0) \(shapes[$0]!)" }.joined(separator: ", ")
    }

    /// Merges the shards: one `.h5` per (subject, selection) as `OUT/<subject>_<selection>.h5`
    /// when `output` is nil; otherwise one file at `output`, laid out as `berg encode` writes
    /// it when the plan has one (subject, selection), else with one group per
    /// `<subject>_<selection>` holding that layout. Shards are read one at a time and written
    /// as they come. Returns the files written. Refuses (and writes nothing) while
    /// `mergeProblems()` lists any problem.
    @discardableResult
    public func merge(output: String? = nil) throws -> [String] {
        if let output {
            guard ["h5", "hdf5"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) else {
                throw BERGError.invalidArgument(name: "output", value: output, message: "merged results are HDF5: name it .h5")
            }
            try BERG.checkWritable(output)
        }
        let problems = mergeProblems()
        guard problems.isEmpty else {
            throw BERGError.invalidInput("\(problems.count) problem(s) with the shards of \(planPath.path): \(problems.joined(separator: "; ")). `berg status \(folder.path)` prints the sbatch line that reruns what is missing")
        }
        let attributes: [String: HDF5File.AttributeValue] = [
            "input": .string(input), "plan_hash": .string(hash), "shards": .int(shards),
            "device": .string((try? device.resolved())?.rawValue ?? device.rawValue),
        ]
        let all = outputs
        guard let output else {
            return try all.map { item in
                let path = folder.appendingPathComponent("\(item.label).h5").path
                let writer = try ResultWriter.writer(for: path, count: stimulusCount, outputs: [], attributes: attributes,
                                                     includeMetadata: includeMetadata)
                try join(item.tasks, into: writer)
                return path
            }
        }
        if all.count == 1 {
            let writer = try ResultWriter.writer(for: output, count: stimulusCount, outputs: [], attributes: attributes,
                                                 includeMetadata: includeMetadata)
            try join(all[0].tasks, into: writer)
        } else {
            try ResultWriter.writeHDF5File(to: output) { file in
                for item in all {
                    try join(item.tasks, into: ResultWriter.writer(into: file, group: item.label, count: stimulusCount,
                                                                   attributes: attributes, includeMetadata: includeMetadata))
                }
                try file.setAttribute("plan_hash", .string(hash))
                try file.setAttribute("model_id", .string(modelID))
                try file.setAttribute("berg_version", .string(BERG.version))
            }
        }
        return [output]
    }

    /// One (subject, selection)'s shards, in order, through `sink`: the response rows as they
    /// are stored, the stimulus names, the first shard's metadata (or the run's), the shards'
    /// crop notes together.
    private func join(_ tasks: [ShardTask], into sink: ResultSink) throws {
        do {
            var names: [String] = [], crops: [String] = []
            var metadata = Metadata()
            for task in tasks {
                let file = try HDF5File(path: outputPath(task).path, mode: .read)
                defer { try? file.close() }
                let datasets = try file.kind(of: "responses") == .dataset
                    ? [("responses", "responses")] : try file.children(of: "responses").map { ($0, "responses/\($0)") }
                var responses: [String: Tensor] = [:]
                for (name, path) in datasets { responses[name] = try file.read(path) }
                // The units' labels (an EEG model's ch_names and times), the same in every shard.
                try sink.append(EncodingResult(responses: responses, metadata: Metadata(), labels: try ResultWriter.readLabels(file)))
                names += try file.exists("stimulus_names") ? file.readStrings("stimulus_names") : []
                if case .string(let crop)? = try? file.attribute("stimulus_crop") { crops.append(crop) }
                if task.shard == 1 {
                    metadata = includeMetadata ? try file.readMetadata(at: "metadata")
                        : BERG.runMetadata(id: modelID, subject: Subject(task.subject), selection: Selection(task.selection))
                }
            }
            metadata["stimulus_crop"] = crops.isEmpty ? nil : .string(crops.joined(separator: "; "))
            try sink.finish(EncodingSummary(metadata: metadata, stimulusNames: names, placement: nil))
            try sink.commit()
        } catch {
            sink.discard()
            throw error
        }
    }
}
