import BERGCore
import BERGRegistry
import Foundation

/// The compressive spatial summation (CSS) pRF model (Kay, Winawer, Mezer & Wandell 2013,
/// J Neurophysiol 110:481–494), encoder kind `css_prf`.
///
/// 1. Contrast image: luminance L = (0.299 R + 0.587 G + 0.114 B) / 255 of the centre
///    square of the image; contrast c = min(1, |L − grey| / grey) with c = 0 where
///    |L − grey| ≤ tolerance, averaged into `contrast_grid` × `contrast_grid` cells that span
///    [−R, R]² degrees (R = `field_radius_deg`, y up).
/// 2. Each voxel is an isotropic Gaussian G(x, y) = exp(−d² / 2σ²) / (2πσ²) of unit volume,
///    sampled at cell centres and multiplied by the cell area, so that a pRF fully covered
///    by full contrast has drive ≈ 1.
/// 3. response = gain · (Σ G · c)^n.
public struct CSSPRFEncoder: EncodingModel {
    public static let kind = EncoderKind(
        name: "css_prf", settings: Settings.self,
        builder: { context, settings in try CSSPRFEncoder(context: context, settings: settings) },
        metadata: { context, settings in
            let area = try settings.area(context.selection["roi"], model: context.manifest.modelID)
            return try CSSPRFEncoder.metadata(voxels: CSSPRFEncoder.voxels(settings: settings, area: area), settings: settings)
        },
        metadataArtifacts: [])

    /// One visual area's pRF parameters.
    public struct AreaParameters: Decodable, Sendable, Equatable {
        /// σ = sigmaSlope · eccentricity + sigmaIntercept (degrees).
        public var sigmaSlope: Double
        public var sigmaIntercept: Double
        /// The CSS exponent n.
        public var exponent: Double
        public var gain: Double
        enum CodingKeys: String, CodingKey { case sigmaSlope = "sigma_slope", sigmaIntercept = "sigma_intercept_deg", exponent, gain }
    }

    /// The manifest's `encoder.settings`.
    public struct Settings: EncoderSettingsType, Equatable {
        public var fieldRadius: Double
        public var contrastGrid: Int
        public var greyLevel: Double
        public var greyTolerance: Double
        public var eccentricityMin: Double
        public var eccentricityMax: Double
        public var rings: Int
        public var polarAngles: Int
        public var areas: [String: AreaParameters]
        /// Documentation only: where the parameters come from, and the definitions the card shows.
        public var parameterSource: String?
        public var contrastDefinition: String?
        public var prfDefinition: String?
        public var centresDefinition: String?
        public var areasDefinition: String?

        enum CodingKeys: String, CodingKey {
            case fieldRadius = "field_radius_deg", contrastGrid = "contrast_grid", greyLevel = "grey_level"
            case greyTolerance = "grey_tolerance", eccentricityMin = "eccentricity_min_deg"
            case eccentricityMax = "eccentricity_max_deg", rings, polarAngles = "polar_angles", areas
            case parameterSource = "parameter_source", contrastDefinition = "contrast_definition"
            case prfDefinition = "prf_definition", centresDefinition = "centres_definition", areasDefinition = "areas_definition"
        }

        public func validate() throws {
            guard fieldRadius > 0 else { throw SettingsProblem("field_radius_deg", "must be positive") }
            guard (4...1024).contains(contrastGrid) else { throw SettingsProblem("contrast_grid", "must be in 4...1024") }
            guard greyLevel > 0, greyLevel < 1 else { throw SettingsProblem("grey_level", "must be in (0, 1)") }
            guard eccentricityMin > 0, eccentricityMax > eccentricityMin else {
                throw SettingsProblem("eccentricity_max_deg", "need 0 < eccentricity_min_deg < eccentricity_max_deg")
            }
            guard (1...1000).contains(rings), (1...1000).contains(polarAngles) else {
                throw SettingsProblem("rings", "rings and polar_angles must be in 1...1000")
            }
            for (name, area) in areas {
                guard area.exponent > 0 else { throw SettingsProblem("areas.\(name).exponent", "must be positive") }
                guard area.sigmaSlope >= 0, area.sigmaIntercept > 0 else {
                    throw SettingsProblem("areas.\(name).sigma_intercept_deg", "σ must be positive: need sigma_slope ≥ 0 and sigma_intercept_deg > 0")
                }
            }
        }

        /// The parameters of a selected ROI.
        public func area(_ roi: String?, model: String) throws -> AreaParameters {
            guard let roi, let area = areas[roi] else {
                throw BERGError.invalidParameter(model: model, name: "roi", value: roi ?? "", valid: areas.keys.sorted())
            }
            return area
        }
    }

    /// One voxel's pRF.
    public struct Voxel: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var sigma: Double
        public var exponent: Double
        public var gain: Double
        public var eccentricity: Double { (x * x + y * y).squareRoot() }
    }

    public let modelID: String
    public let subject: Subject
    public let selection: Selection
    public let device: Device
    public let settings: Settings
    public let voxels: [Voxel]
    public let metadata: Metadata
    public let placement: ResponsePlacement?
    /// pRF weights, [voxels, grid·grid], row-major, each row already multiplied by cell area.
    let weights: [Float]

    /// The model a context describes, with the manifest's settings decoded.
    public init(context: EncoderContext) throws {
        try self.init(context: context, settings: SettingsDecoder.decode(Settings.self, from: context.manifest))
    }

    public init(context: EncoderContext, settings: Settings) throws {
        let area = try settings.area(context.selection["roi"], model: context.manifest.modelID)
        try self.init(modelID: context.manifest.modelID, subject: context.subject, selection: context.selection,
                      device: context.device, settings: settings, area: area)
    }

    public init(modelID: String, subject: Subject, selection: Selection, device: Device,
                settings: Settings, area: AreaParameters) throws {
        self.modelID = modelID
        self.subject = subject
        self.selection = selection
        self.device = try device.resolved()
        self.settings = settings
        self.voxels = CSSPRFEncoder.voxels(settings: settings, area: area)
        self.metadata = try CSSPRFEncoder.metadata(voxels: voxels, settings: settings)
        self.weights = CSSPRFEncoder.weights(voxels: voxels, settings: settings)
        self.placement = .visualField(try VisualFieldPlacement(
            x: voxels.map { Float($0.x) }, y: voxels.map { Float($0.y) }, sigma: voxels.map { Float($0.sigma) },
            fieldRadius: settings.fieldRadius))
    }

    /// Centres on a log-polar grid: `rings` eccentricities evenly spaced in log eccentricity,
    /// `polarAngles` angles per ring, odd rings rotated by half a step; σ linear in eccentricity.
    public static func voxels(settings: Settings, area: AreaParameters) -> [Voxel] {
        var voxels: [Voxel] = []
        voxels.reserveCapacity(settings.rings * settings.polarAngles)
        let logMin = log(settings.eccentricityMin), logMax = log(settings.eccentricityMax)
        for ring in 0..<settings.rings {
            let t = settings.rings == 1 ? 0 : Double(ring) / Double(settings.rings - 1)
            let eccentricity = exp(logMin + t * (logMax - logMin))
            let sigma = area.sigmaSlope * eccentricity + area.sigmaIntercept
            for step in 0..<settings.polarAngles {
                let angle = 2 * Double.pi * (Double(step) + (ring % 2 == 1 ? 0.5 : 0)) / Double(settings.polarAngles)
                voxels.append(Voxel(x: eccentricity * cos(angle), y: eccentricity * sin(angle),
                                    sigma: sigma, exponent: area.exponent, gain: area.gain))
            }
        }
        return voxels
    }

    static func metadata(voxels: [Voxel], settings: Settings) throws -> Metadata {
        func column(_ f: (Voxel) -> Double) throws -> MetadataValue {
            .tensor(try Tensor(shape: [voxels.count], floats: voxels.map { Float(f($0)) }))
        }
        return Metadata([
            ("prf_x_deg", try column(\.x)),
            ("prf_y_deg", try column(\.y)),
            ("prf_sigma_deg", try column(\.sigma)),
            ("prf_exponent", try column(\.exponent)),
            ("prf_gain", try column(\.gain)),
            ("field_radius_deg", .double(settings.fieldRadius)),
        ])
    }

    /// The visual-field position (degrees) of a contrast cell's centre.
    public static func cellCentre(row: Int, column: Int, settings: Settings) -> (x: Double, y: Double) {
        let g = Double(settings.contrastGrid), r = settings.fieldRadius
        return (x: ((Double(column) + 0.5) / g * 2 - 1) * r, y: (1 - (Double(row) + 0.5) / g * 2) * r)
    }

    static func weights(voxels: [Voxel], settings: Settings) -> [Float] {
        let g = settings.contrastGrid
        let cell = 2 * settings.fieldRadius / Double(g)
        let cellArea = cell * cell
        var weights = [Float](repeating: 0, count: voxels.count * g * g)
        for (v, voxel) in voxels.enumerated() {
            let norm = cellArea / (2 * Double.pi * voxel.sigma * voxel.sigma)
            for row in 0..<g {
                for column in 0..<g {
                    let (x, y) = cellCentre(row: row, column: column, settings: settings)
                    let d2 = (x - voxel.x) * (x - voxel.x) + (y - voxel.y) * (y - voxel.y)
                    weights[v * g * g + row * g + column] = Float(norm * exp(-d2 / (2 * voxel.sigma * voxel.sigma)))
                }
            }
        }
        return weights
    }

    /// The contrast image of one stimulus image, [grid, grid] row-major (row 0 at the top).
    public static func contrastImage(_ stimulus: Stimulus, index: Int, settings: Settings) -> [Float] {
        let side = min(stimulus.height, stimulus.width)
        let top = (stimulus.height - side) / 2, left = (stimulus.width - side) / 2
        let plane = stimulus.height * stimulus.width
        let base = index * stimulus.imageSize
        let grey = Float(settings.greyLevel), tolerance = Float(settings.greyTolerance)
        var pixelContrast = [Float](repeating: 0, count: side * side)
        stimulus.pixels.withUnsafeBufferPointer { px in
            for row in 0..<side {
                for column in 0..<side {
                    let offset = base + (top + row) * stimulus.width + left + column
                    let luminance = (0.299 * Float(px[offset]) + 0.587 * Float(px[offset + plane])
                                     + 0.114 * Float(px[offset + 2 * plane])) / 255
                    let deviation = abs(luminance - grey)
                    pixelContrast[row * side + column] = deviation <= tolerance ? 0 : min(1, deviation / grey)
                }
            }
        }
        return cellAverages(pixelContrast, side: side, grid: settings.contrastGrid)
    }

    /// The mean over each cell of a grid × grid split of a side × side plane; when the plane
    /// has fewer pixels than cells, a cell takes the pixel it falls on.
    static func cellAverages(_ plane: [Float], side: Int, grid g: Int) -> [Float] {
        var contrast = [Float](repeating: 0, count: g * g)
        for row in 0..<g {
            let rows = cellSpan(row, side: side, grid: g)
            for column in 0..<g {
                let columns = cellSpan(column, side: side, grid: g)
                var sum: Float = 0
                for r in rows { for c in columns { sum += plane[r * side + c] } }
                contrast[row * g + column] = sum / Float(rows.count * columns.count)
            }
        }
        return contrast
    }

    /// The pixel rows (or columns) of a cell.
    static func cellSpan(_ cell: Int, side: Int, grid: Int) -> Range<Int> {
        let lower = cell * side / grid
        return lower ..< max((cell + 1) * side / grid, lower + 1)
    }

    /// Σ pRF · contrast for each voxel.
    public func drive(contrast: [Float]) -> [Float] {
        let cells = settings.contrastGrid * settings.contrastGrid
        return weights.withUnsafeBufferPointer { w in
            contrast.withUnsafeBufferPointer { c in
                (0..<voxels.count).map { v in
                    var sum: Float = 0
                    let row = v * cells
                    for i in 0..<cells { sum += w[row + i] * c[i] }
                    return sum
                }
            }
        }
    }

    public func encode(_ stimulus: Stimulus, progress: ProgressReporter?) throws -> EncodingResult {
        var responses = [Float](repeating: 0, count: stimulus.count * voxels.count)
        for image in 0..<stimulus.count {
            let drive = drive(contrast: CSSPRFEncoder.contrastImage(stimulus, index: image, settings: settings))
            for (v, voxel) in voxels.enumerated() {
                responses[image * voxels.count + v] = Float(voxel.gain) * pow(max(drive[v], 0), Float(voxel.exponent))
            }
            progress?.report(completed: image + 1, total: stimulus.count, message: "encoding")
        }
        var metadata = self.metadata
        if let note = Preprocessing(squareCrop: true).cropNote(for: stimulus) { metadata["stimulus_crop"] = .string(note) }
        return EncodingResult(responses: ["responses": try Tensor(shape: [stimulus.count, voxels.count], floats: responses)],
                              metadata: metadata, stimulusNames: stimulus.names, placement: placement)
    }
}
