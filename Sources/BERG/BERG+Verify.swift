import BERGCore
import BERGRegistry
import BERGStore
import Foundation

/// What `verify` found.
public struct VerifyReport: Sendable {
    /// Where the largest difference is.
    public struct Worst: Sendable {
        public var output: String
        public var stimulus: String
        /// The check's subject and selection (`subject 1, roi=V1`).
        public var check: String
        public var recorded: Float
        public var computed: Float
    }

    public var modelID: String
    public var version: String
    /// The subjects and selections checked.
    public var checks: [String]
    public var stimulusCount: Int
    /// The largest |computed − recorded| over the largest |recorded| of the same output.
    public var maxRelativeError: Double
    public var worst: Worst?
    public var passed: Bool { maxRelativeError <= BERG.verifyTolerance }

    /// One line: what was checked and the largest relative error, or where the worst one is.
    public var summary: String {
        let error = String(format: "%.3g", maxRelativeError)
        if passed {
            return "\(modelID) \(version): \(stimulusCount) check stimuli × \(checks.count) check(s) (\(checks.joined(separator: "; "))) reproduce the published responses; max relative error \(error) (tolerance 1e-4)"
        }
        let place = worst.map { " at output '\($0.output)', stimulus '\($0.stimulus)' (\($0.check)): recorded \($0.recorded), computed \($0.computed)" } ?? ""
        return "\(modelID) \(version) does not reproduce its published check: max relative error \(error)\(place); the tolerance is 1e-4"
    }
}

extension BERG {
    /// A model's reproducibility check: the `check_responses` artifact of a published model
    /// (fetched through the store), or the check a built-in model carries in the binary
    /// (`registry/checks/<id>.h5`).
    public func checkResponses(_ id: String) throws -> CheckResponses {
        let manifest = try registry.manifest(id)
        if let artifact = manifest.artifacts.first(where: { $0.name == BERG.checkArtifactName }) {
            let file = try artifacts.localFiles(for: BERG.only(artifact, of: manifest), subject: manifest.subjects.first ?? Subject(1),
                                                selection: Selection())[artifact.name]
            guard let file else { throw BERGError.artifactMissing(name: artifact.name, message: "the store gave no file for it") }
            return try CheckResponses.read(file.path)
        }
        if let embedded = BuiltinChecks.data(for: id), (try? Registry.builtinManifests())?.contains(manifest) == true {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("berg-check-\(getpid())-\(UUID().uuidString).h5")
            defer { try? FileManager.default.removeItem(at: file) }
            do { try embedded.write(to: file) } catch {
                throw BERGError.writeFailed(path: file.path, message: error.localizedDescription)
            }
            return try CheckResponses.read(file.path)
        }
        throw BERGError.unsupported("\(id) has no reproducibility check: models published with `berg publish` carry one (the artifact \(BERG.checkArtifactName)), as do built-in models with a file in registry/checks/")
    }

    /// `berg verify`: fetches the model's files if needed, encodes its check stimuli again for
    /// each recorded subject and selection (those matching `subject` and `selection` when
    /// given), and compares with the recorded responses. Each value's error is its difference
    /// over the largest recorded magnitude of its output; the report passes within
    /// `verifyTolerance` (1e-4).
    public func verify(_ id: String, subject: Subject? = nil, selection: Selection = [:],
                       progress: ProgressReporter? = nil) throws -> VerifyReport {
        let manifest = try registry.manifest(id)
        try checkChoice(manifest, subject: subject, selection: selection)
        let check = try checkResponses(id)
        let chosen = check.checks.filter { recorded in
            (subject == nil || recorded.subject == subject) && selection.values.allSatisfy { recorded.selection[$0.key] == $0.value }
        }
        guard !chosen.isEmpty else {
            let asked = (subject.map { ["subject \($0)"] } ?? []) + selection.values.keys.sorted().map { "\($0)=\(selection[$0]!)" }
            throw BERGError.invalidParameter(model: id, name: "check", value: asked.joined(separator: ", "), valid: check.checks.map(\.label))
        }
        var report = VerifyReport(modelID: id, version: manifest.version, checks: chosen.map(\.label),
                                  stimulusCount: check.stimulusCount, maxRelativeError: 0, worst: nil)
        let names = check.stimulusNames
        for recorded in chosen {
            let model = try getEncodingModel(id, subject: recorded.subject, selection: recorded.selection)
            let result = try encode(model, check.stimuli, progress: progress)
            for output in recorded.responses.keys.sorted() {
                let expected = recorded.responses[output]!
                guard let computed = result.responses[output] else {
                    throw BERGError.unexpectedContent(path: "\(id) (\(recorded.label))", message: "the check records output '\(output)', which the model no longer gives (it gives \(result.responses.keys.sorted().joined(separator: ", ")))")
                }
                guard computed.shape == expected.shape else {
                    throw BERGError.shapeMismatch(what: "\(id) output '\(output)' (\(recorded.label)) against the published check", expected: expected.shape, actual: computed.shape)
                }
                let (error, index) = BERG.largestRelativeError(computed.floats, expected.floats)
                if let index, report.worst == nil || error > report.maxRelativeError {
                    report.maxRelativeError = error
                    let row = index / max(expected.count / max(expected.shape.first ?? 1, 1), 1)
                    report.worst = .init(output: output, stimulus: row < names.count ? names[row] : "#\(row)", check: recorded.label,
                                         recorded: expected.floats[index], computed: computed.floats[index])
                }
            }
        }
        return report
    }

    /// Encodes the default check stimuli (`checkStimuli(size:)`) for every subject and selection
    /// of a model and writes the check file: how a built-in model's `registry/checks/<id>.h5`
    /// is made (then `make registry` embeds it).
    @discardableResult
    public func recordCheck(_ id: String, to path: String, size: Int = BERG.checkStimulusSize,
                            progress: ProgressReporter? = nil) throws -> CheckResponses {
        let manifest = try registry.manifest(id)
        let stimuli = try BERG.checkStimuli(size: size)
        var checks: [CheckResponses.Check] = []
        for subject in manifest.subjects {
            for selection in manifest.allSelections {
                let model = try getEncodingModel(id, subject: subject, selection: selection)
                checks.append(.init(subject: subject, selection: selection, responses: try encode(model, stimuli, progress: progress).responses))
            }
        }
        let check = CheckResponses(modelID: id, version: manifest.version, stimuli: [stimuli], checks: checks)
        try check.write(to: path)
        return check
    }

    /// The largest |a − b| / max |b| and where it is; NaN where both are NaN counts as equal.
    static func largestRelativeError(_ computed: [Float], _ recorded: [Float]) -> (Double, Int?) {
        let scale = Double(recorded.lazy.filter(\.isFinite).map(abs).max() ?? 0)
        let divisor = scale > 0 ? scale : 1
        var worst = 0.0, at: Int?
        for index in recorded.indices {
            let a = computed[index], b = recorded[index]
            if a.isNaN && b.isNaN { continue }
            let error = a == b ? 0 : (a.isFinite && b.isFinite ? Double(abs(a - b)) / divisor : .infinity)
            if error > worst { worst = error; at = index }
        }
        return (worst, at)
    }

    /// Subject and selection values a manifest lists, or the usual errors naming the valid ones.
    private func checkChoice(_ manifest: Manifest, subject: Subject?, selection: Selection) throws {
        if let subject, !manifest.subjects.contains(subject) {
            throw BERGError.invalidParameter(model: manifest.modelID, name: "subject", value: String(subject.number),
                                             valid: manifest.parameters.subject.validStrings)
        }
        let spec = manifest.parameters.selection
        for key in selection.values.keys.sorted() {
            guard let property = spec.properties[key] else {
                throw BERGError.invalidSelection(model: manifest.modelID, message: "unknown selection key '\(key)'; this model takes: \(spec.orderedKeys.joined(separator: ", "))")
            }
            if !property.validValues.isEmpty, !property.validStrings.contains(selection[key]!) {
                throw BERGError.invalidParameter(model: manifest.modelID, name: key, value: selection[key]!, valid: property.validStrings)
            }
        }
    }
}
