import BERGCore
import BERGFormats
import BERGStore
import Foundation

/// A model's reproducibility check: stimuli and the responses the model gave them when it was
/// published. `berg publish` writes it as the artifact `check_responses` (file
/// `check_responses.h5`); `berg verify` encodes the stimuli again and compares.
///
///     check_responses.h5                 root attributes: model_id, version, berg_version
///     ├── stimulus_names                 strings [N]
///     ├── stimulus_sha256                strings [N]: SHA-256 of each stimulus's uint8
///     │                                  [3, H, W] bytes in C order
///     ├── stimuli/000 …                  uint8 [n, 3, H, W]: the stimuli in order, one dataset per
///     │                                  run of one size (one dataset when all have one size)
///     └── checks/000 …                   one group per subject and selection checked, with
///         │                              attributes subject (int) and selection (JSON object)
///         └── responses                  float32, one dataset per output as the model gives it
///
/// The file records no times: the same stimuli and responses give the same bytes.
public struct CheckResponses: Sendable {
    /// The responses for one subject and selection, by output name.
    public struct Check: Sendable {
        public var subject: Subject
        public var selection: Selection
        public var responses: [String: Tensor]

        public init(subject: Subject, selection: Selection, responses: [String: Tensor]) {
            self.subject = subject
            self.selection = selection
            self.responses = responses
        }

        /// `subject 1, roi=V1`.
        public var label: String {
            (["subject \(subject.number)"] + selection.values.keys.sorted().map { "\($0)=\(selection[$0]!)" }).joined(separator: ", ")
        }
    }

    public var modelID: String
    public var version: String
    /// The BERG version that recorded the responses.
    public var bergVersion: String
    /// The stimuli, in runs of one size each.
    public var stimuli: [Stimulus]
    public var checks: [Check]

    public init(modelID: String, version: String, bergVersion: String = BERG.version, stimuli: [Stimulus], checks: [Check]) {
        self.modelID = modelID
        self.version = version
        self.bergVersion = bergVersion
        self.stimuli = stimuli
        self.checks = checks
    }

    public var stimulusNames: [String] { stimuli.flatMap(\.names) }
    public var stimulusCount: Int { stimuli.reduce(0) { $0 + $1.count } }

    /// Each stimulus's SHA-256, in order.
    public var stimulusSHA256: [String] {
        stimuli.flatMap { run in (0..<run.count).map { CheckResponses.sha256(run.image($0)) } }
    }

    static func sha256(_ pixels: ArraySlice<UInt8>) -> String {
        pixels.withUnsafeBytes { SHA256Hex.of(bytes: $0) }
    }

    /// Writes the file under a temporary name and renames it into place.
    public func write(to path: String) throws {
        try ResultWriter.writeHDF5File(to: path) { file in
            try file.setAttribute("model_id", .string(modelID))
            try file.setAttribute("version", .string(version))
            try file.setAttribute("berg_version", .string(bergVersion))
            try file.writeStrings(stimulusNames, at: "stimulus_names")
            try file.writeStrings(stimulusSHA256, at: "stimulus_sha256")
            try file.createGroup("stimuli")
            for (number, run) in stimuli.enumerated() {
                try file.write(run.tensor, at: "stimuli/" + String(format: "%03d", number), compressed: true)
            }
            try file.createGroup("checks")
            for (number, check) in checks.enumerated() {
                let group = "checks/" + String(format: "%03d", number)
                try file.createGroup(group)
                try file.setAttribute("subject", .int(check.subject.number), on: group)
                try file.setAttribute("selection", .string(try CheckResponses.json(check.selection)), on: group)
                for name in check.responses.keys.sorted() {
                    try file.write(check.responses[name]!.asFloat32, at: "\(group)/\(name)", compressed: true)
                }
            }
        }
    }

    /// Reads a check file, and checks each stimulus against its recorded SHA-256.
    public static func read(_ path: String) throws -> CheckResponses {
        let file = try HDF5File(path: path, mode: .read)
        defer { try? file.close() }
        func string(_ name: String, of object: String = "/") throws -> String {
            guard case .string(let value) = try file.attribute(name, of: object) else {
                throw BERGError.unexpectedContent(path: path, message: "attribute \(object)@\(name) is not a string; is this a check_responses.h5 from `berg publish`?")
            }
            return value
        }
        let names = try file.readStrings("stimulus_names")
        let hashes = try file.readStrings("stimulus_sha256")
        var stimuli: [Stimulus] = []
        for run in try file.children(of: "stimuli").sorted() {
            let tensor = try file.read("stimuli/\(run)")
            guard case .uint8(let pixels) = tensor.storage, tensor.rank == 4, tensor.shape[1] == 3 else {
                throw BERGError.unexpectedContent(path: path, message: "stimuli/\(run) is \(tensor.dtype.rawValue) \(tensor.shape); expected uint8 [N, 3, H, W]")
            }
            let first = stimuli.reduce(0) { $0 + $1.count }, count = tensor.shape[0]
            guard first + count <= names.count else {
                throw BERGError.unexpectedContent(path: path, message: "more stimuli than the \(names.count) stimulus names")
            }
            stimuli.append(try Stimulus(images: pixels, count: count, height: tensor.shape[2], width: tensor.shape[3],
                                        names: Array(names[first..<first + count])))
        }
        let stored = stimuli.reduce(0) { $0 + $1.count }
        guard names.count == hashes.count, names.count == stored, !names.isEmpty else {
            throw BERGError.unexpectedContent(path: path, message: "\(names.count) stimulus names, \(hashes.count) SHA-256s and \(stored) stimuli; they must be equal in number and not 0")
        }
        // A stimulus that changed since it was recorded would make any comparison meaningless.
        for (index, actual) in CheckResponses(modelID: "", version: "", stimuli: stimuli, checks: []).stimulusSHA256.enumerated()
        where actual != hashes[index].lowercased() {
            throw BERGError.checksumMismatch(path: "\(path): stimulus '\(names[index])'", expected: hashes[index], actual: actual)
        }
        var checks: [Check] = []
        for group in try file.children(of: "checks").sorted() {
            let object = "checks/\(group)"
            guard case .int(let subject) = try file.attribute("subject", of: object) else {
                throw BERGError.unexpectedContent(path: path, message: "\(object)@subject is not an integer")
            }
            let selection = try CheckResponses.selection(fromJSON: string("selection", of: object), path: path)
            var responses: [String: Tensor] = [:]
            for output in try file.children(of: object) { responses[output] = try file.read("\(object)/\(output)") }
            checks.append(Check(subject: Subject(subject), selection: selection, responses: responses))
        }
        return CheckResponses(modelID: try string("model_id"), version: try string("version"),
                              bergVersion: try string("berg_version"), stimuli: stimuli, checks: checks)
    }

    static func json(_ selection: Selection) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: selection.values, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func selection(fromJSON text: String, path: String) throws -> Selection {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else {
            throw BERGError.unexpectedContent(path: path, message: "a check's selection '\(text)' is not a JSON object of strings")
        }
        var selection = Selection()
        for (key, value) in object { selection[key] = value }
        return selection
    }
}
