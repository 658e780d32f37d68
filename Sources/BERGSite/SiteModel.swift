/// What a model's page and its row in the index show, prepared by the facade: plain text
/// everywhere (the pages escape all of it), Markdown for the card and the check.
public struct SiteModel: Sendable {
    public struct SelectionKey: Sendable {
        public var key: String
        public var values: String
        public var defaultValue: String
        public var description: String
        public init(key: String, values: String, defaultValue: String, description: String) {
            self.key = key
            self.values = values
            self.defaultValue = defaultValue
            self.description = description
        }
    }

    public struct File: Sendable {
        public var name: String
        /// Where it comes from (a URL, a bucket path, a wheel member).
        public var location: String
        public var size: String
        public var sha256: String
        public init(name: String, location: String, size: String, sha256: String) {
            self.name = name
            self.location = location
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct Picture: Sendable {
        /// The PNG's file name, beside the page.
        public var file: String
        public var caption: String
        public init(file: String, caption: String) {
            self.file = file
            self.caption = caption
        }
    }

    public var modelID: String
    public var version: String
    public var modality: String
    public var dataset: String
    public var species: String
    public var modelType: String
    /// `roi: V1, V2, V3`, for the index's table.
    public var selectionSummary: String
    /// `none (built in)`, `4 file(s)`, `2 files, 6.9 MB`.
    public var download: String
    /// Where the manifest came from: `built in`, or an index's URL.
    public var source: String
    /// The card as `berg card` prints it (Markdown).
    public var cardMarkdown: String
    public var selection: [SelectionKey]
    public var selectionRequired: Bool
    public var files: [File]
    /// Shell commands: registry add, get-model, encode, verify.
    public var commands: String
    public var swiftCode: String
    /// The check's summary (Markdown), when the model has one.
    public var checkMarkdown: String?
    public var pictures: [Picture]
    /// The other published versions of the id, newest first.
    public var otherVersions: [String]

    public init(modelID: String, version: String, modality: String, dataset: String, species: String, modelType: String,
                selectionSummary: String, download: String, source: String, cardMarkdown: String,
                selection: [SelectionKey], selectionRequired: Bool, files: [File], commands: String, swiftCode: String,
                checkMarkdown: String?, pictures: [Picture], otherVersions: [String]) {
        self.modelID = modelID
        self.version = version
        self.modality = modality
        self.dataset = dataset
        self.species = species
        self.modelType = modelType
        self.selectionSummary = selectionSummary
        self.download = download
        self.source = source
        self.cardMarkdown = cardMarkdown
        self.selection = selection
        self.selectionRequired = selectionRequired
        self.files = files
        self.commands = commands
        self.swiftCode = swiftCode
        self.checkMarkdown = checkMarkdown
        self.pictures = pictures
        self.otherVersions = otherVersions
    }

    /// The page's folder relative to the site's root: `<id>/<version>`, each part made safe
    /// for a file name and a URL.
    public var folder: String { SiteModel.pathPart(modelID) + "/" + SiteModel.pathPart(version) }

    static func pathPart(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
        let cleaned = String(text.map { allowed.contains($0) ? $0 : "_" })
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "_" : cleaned
    }
}
