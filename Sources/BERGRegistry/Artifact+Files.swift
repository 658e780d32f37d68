import BERGCore

extension Artifact {
    /// The name a file of a templated artifact has in `files`: the expanded template after the
    /// template's fixed folder, the part up to the last `/` before its first placeholder.
    /// `https://lab.org/m/1.0/w_sub-{subject:02}.pt` expanded for subject 1 is `w_sub-01.pt`.
    public static func fileKey(template: String, subject: Subject, selection: Selection) -> String {
        let expanded = Manifest.expand(template, subject: subject, selection: selection)
        return String(expanded.dropFirst(fixedFolder(of: template).count))
    }

    /// The part of a template that no placeholder changes, up to and including its last `/`.
    public static func fixedFolder(of template: String) -> String {
        let beforePlaceholder = template.prefix { $0 != "{" }
        guard let slash = beforePlaceholder.lastIndex(of: "/") else { return "" }
        return String(template[...slash])
    }

    /// Whether the artifact's location changes with the subject or selection.
    public var isTemplate: Bool {
        [path, url].compactMap { $0 }.contains { $0.contains("{") }
    }

    /// The SHA-256 and size one (subject, selection) file should have: `sha256` and `size` for
    /// a single file, the `files` entry for a templated one.
    public func checksum(subject: Subject, selection: Selection) -> (sha256: String?, size: Int?) {
        guard let files, let template = url ?? path else { return (sha256, size) }
        let entry = files[Artifact.fileKey(template: template, subject: subject, selection: selection)]
        return (entry?.sha256, entry?.size)
    }
}
