import BERGCore
import BERGFormats
import Foundation

/// `berg merge`: every shard checked, then each (subject, selection)'s shards joined in input
/// order. The response arrays are the shards' float32 rows, copied bit for bit.
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
    /// `<subject>_<selection>` holding that layout. Returns the files written. Refuses (and
    /// writes nothing) while `mergeProblems()` lists any problem.
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
        let merged = try outputs.map { output in (label: output.label, result: try mergedResult(output.tasks)) }
        let attributes = ["input": input, "plan_hash": hash, "shards": String(shards), "device": (try? device.resolved())?.rawValue ?? device.rawValue]
        func allAttributes(_ result: EncodingResult) -> [String: String] {
            BERG.resultAttributes(result).merging(attributes) { _, given in given }
        }
        guard let output else {
            return try merged.map { item in
                let path = folder.appendingPathComponent("\(item.label).h5").path
                try ResultWriter.write(item.result, to: path, stimulusNames: item.result.stimulusNames,
                                       attributes: allAttributes(item.result), includeMetadata: includeMetadata)
                return path
            }
        }
        if merged.count == 1, let only = merged.first?.result {
            try ResultWriter.write(only, to: output, stimulusNames: only.stimulusNames, attributes: allAttributes(only),
                                   includeMetadata: includeMetadata)
        } else {
            try ResultWriter.writeHDF5File(to: output) { file in
                for item in merged {
                    try ResultWriter.write(item.result, into: file, group: item.label, stimulusNames: item.result.stimulusNames,
                                           attributes: allAttributes(item.result), includeMetadata: includeMetadata)
                }
                try file.setAttribute("plan_hash", .string(hash))
                try file.setAttribute("model_id", .string(modelID))
                try file.setAttribute("berg_version", .string(BERG.version))
            }
        }
        return [output]
    }

    /// One (subject, selection)'s shards joined: responses row after row, stimulus names in
    /// order, the first shard's metadata, the shards' crop notes together.
    private func mergedResult(_ tasks: [ShardTask]) throws -> EncodingResult {
        var floats: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        var names: [String] = []
        var crops: [String] = []
        var metadata = Metadata()
        for task in tasks {
            let file = try HDF5File(path: outputPath(task).path, mode: .read)
            defer { try? file.close() }
            let datasets = try file.kind(of: "responses") == .dataset
                ? ["responses": "responses"]
                : Dictionary(uniqueKeysWithValues: try file.children(of: "responses").map { ($0, "responses/\($0)") })
            for (name, path) in datasets {
                let tensor = try file.read(path)
                floats[name, default: []] += tensor.floats
                shapes[name] = [(shapes[name]?.first ?? 0) + tensor.shape[0]] + tensor.shape.dropFirst()
            }
            names += try file.exists("stimulus_names") ? file.readStrings("stimulus_names") : []
            if case .string(let crop)? = try? file.attribute("stimulus_crop") { crops.append(crop) }
            if task.shard == 1 {
                metadata = includeMetadata ? try file.readMetadata(at: "metadata")
                    : BERG.runMetadata(id: modelID, subject: Subject(task.subject), selection: Selection(task.selection))
            }
        }
        if !crops.isEmpty { metadata["stimulus_crop"] = .string(crops.joined(separator: "; ")) }
        var responses: [String: Tensor] = [:]
        for (name, values) in floats { responses[name] = try Tensor(shape: shapes[name]!, floats: values) }
        return EncodingResult(responses: responses, metadata: metadata, stimulusNames: names)
    }
}
