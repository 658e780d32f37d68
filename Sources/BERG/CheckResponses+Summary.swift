import BERGCore
import Foundation

extension CheckResponses {
    /// The check in short, as the published card's last section (Markdown).
    public func summaryMarkdown() -> String {
        var lines = [
            "## Reproducibility check",
            "",
            "`berg verify \(modelID)` encodes the \(stimulusCount) check stimuli again and compares the responses with those recorded when version \(version) was published (`check_responses.h5`). It passes when every value lies within a relative error of 1e-4 of the recorded one (relative to the largest magnitude of its output).",
            "",
            "| subject | selection | outputs |",
            "| --- | --- | --- |",
        ]
        for check in checks {
            let selection = check.selection.isEmpty ? "—" : check.selection.description
            lines.append("| \(check.subject) | \(selection) | \(outputShapes(check)) |")
        }
        lines += ["", "Stimuli: \(stimulusDescription). Recorded with BERG \(bergVersion)."]
        return lines.joined(separator: "\n")
    }

    /// `responses [48, 288]`, per output.
    public func outputShapes(_ check: Check) -> String {
        check.responses.keys.sorted().map { "`\($0)` [\(check.responses[$0]!.shape.map(String.init).joined(separator: ", "))]" }
            .joined(separator: ", ")
    }

    /// `48 images, 128×128: bar-x-0, bar-x-1, …, wedge-7`.
    public var stimulusDescription: String {
        let names = stimulusNames
        let sizes = Set(stimuli.map { "\($0.height)×\($0.width)" }).sorted()
        let shown = names.count > 6 ? names.prefix(3).joined(separator: ", ") + ", …, " + names.suffix(2).joined(separator: ", ")
                                     : names.joined(separator: ", ")
        return "\(names.count) images, \(sizes.joined(separator: " and ")): \(shown)"
    }
}
