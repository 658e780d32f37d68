extension Artifact {
    /// An artifact made in code (a model package's files, torchvision's weights for
    /// `berg features`) rather than read from a manifest.
    public init(name: String, source: Source, path: String? = nil, url: String? = nil, size: Int? = nil,
                sha256: String? = nil, description: String? = nil) {
        self.name = name
        self.source = source
        self.path = path
        self.url = url
        self.size = size
        self.sha256 = sha256
        self.description = description
    }
}
