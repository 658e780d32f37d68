import BERGCore
import BERGPlot
import Foundation

/// Draws a pRF model's responses on the visual field, one panel per map, each voxel a disc at
/// its pRF centre (radius σ/2) over a degree grid with a fixation mark:
///
/// - For the retinotopy stimuli (`berg stimuli retinotopy`), one map per family, in this order:
///   eccentricity from the rings, polar angle from the wedges, then x and y position from the
///   bar sweeps. Each voxel is coloured by the position that drives it most
///   (`RetinotopyStimuli.preferredPositions`), with a colour bar in degrees, or a colour wheel
///   for polar angle.
/// - For any other image (or a family of one), the response to that image over the visual
///   field, on one colour scale shared by all such panels (at most `maxResponsePanels`).
enum ResponsePicture {
    /// The field's diameter in pixels.
    static let fieldSize = 280
    static let maxResponsePanels = 12

    /// Where each voxel's pRF lies on the visual field: the result's placement.
    static func fieldPlacement(_ result: EncodingResult) throws -> VisualFieldPlacement {
        guard case .visualField(let field)? = result.placement else {
            throw BERGError.unsupported("a response picture needs a model whose outputs lie in the visual field (pRF models such as fmri-kay2013-css_prf)")
        }
        return field
    }

    static func write(_ result: EncodingResult, to path: String) throws {
        try draw(result).writePNG(to: path)
    }

    static func draw(_ result: EncodingResult) throws -> Canvas {
        let field = try fieldPlacement(result)
        guard let responses = result.responses["responses"], responses.rank == 2, responses.shape[1] == field.x.count else {
            throw BERGError.invalidInput("A response picture needs one response array [images, voxels] with one voxel per pRF in the metadata (\(field.x.count))")
        }
        // Results built by hand may carry no names: the images are then numbered.
        let stimulusNames = result.stimulusNames.count == responses.shape[0]
            ? result.stimulusNames : (0..<responses.shape[0]).map { "image-\($0)" }
        let values = responses.floats, voxels = responses.shape[1]
        // Retinotopy families with at least two steps become maps; every other image a response panel.
        var families: [RetinotopyStimuli.Family: [(image: Int, step: Int)]] = [:]
        for (image, name) in stimulusNames.enumerated() {
            if let (family, step) = RetinotopyStimuli.Family.parse(name) { families[family, default: []].append((image, step)) }
        }
        families = families.filter { $0.value.count >= 2 }
        let mapped = Set(families.values.flatMap { $0.map(\.image) })
        let others = stimulusNames.indices.filter { !mapped.contains($0) }

        var panels: [Canvas] = []
        for family in RetinotopyStimuli.Family.allCases {
            guard let images = families[family] else { continue }
            let preferred = RetinotopyStimuli.preferredPositions(family, responses: values, voxels: voxels, images: images,
                                                                 fieldRadius: field.fieldRadius)
            panels.append(mapPanel(family, preferred: preferred, field: field))
        }
        let shown = Array(others.prefix(maxResponsePanels))
        if !shown.isEmpty {
            let shownValues = shown.flatMap { image in values[image * voxels..<(image + 1) * voxels] }
            let top = max(shownValues.filter(\.isFinite).max().map(Double.init) ?? 1, 1e-6)
            let scale = ColourScale(map: .inferno, range: 0...top)
            for image in shown {
                let response = values[image * voxels..<(image + 1) * voxels].map(Double.init)
                panels.append(responsePanel(title: stimulusNames[image], response: response, scale: scale, field: field))
            }
        }
        let grid = Canvas.grid(panels, columns: panels.count <= 4 ? 2 : 3, spacing: 24, margin: 12)
        let top = header(for: result, field: field, hiddenImages: others.count - shown.count, width: grid.width)
        return Canvas.grid([top, grid], columns: 1, spacing: 0, margin: 0)
    }

    // MARK: Panels

    /// One retinotopic map: voxels coloured by their preferred position, with its legend.
    static func mapPanel(_ family: RetinotopyStimuli.Family, preferred: [Double], field: VisualFieldPlacement) -> Canvas {
        let r = field.fieldRadius
        let title: String, legend: Canvas, colour: (Double) -> Colour
        switch family {
        case .ring:
            let scale = ColourScale(map: .viridis, range: 0...r)
            title = "Eccentricity, from the rings"
            legend = ColourBar(scale: scale, label: "preferred eccentricity (°)").render(length: fieldSize - 40)
            colour = scale.colour(for:)
        case .wedge:
            let wheel = ColourWheel(map: .hsv)
            title = "Polar angle, from the wedges"
            legend = wheel.render(diameter: 90).titled("polar angle", font: .small)
            colour = wheel.colour(atAngle:)
        case .barX, .barY:
            let scale = ColourScale(map: .coolwarm, range: -r...r)
            let horizontal = family == .barX
            title = horizontal ? "Horizontal position, from the vertical bars" : "Vertical position, from the horizontal bars"
            legend = ColourBar(scale: scale, label: horizontal ? "preferred x (°), left − right +" : "preferred y (°), down − up +")
                .render(length: fieldSize - 40)
            colour = scale.colour(for:)
        }
        let colours = preferred.map { $0.isFinite ? colour($0) : Colour(grey: 150) }
        return panel(field: fieldCanvas(colours: colours, field: field), legend: legend).titled(title)
    }

    /// One image's responses over the visual field.
    static func responsePanel(title: String, response: [Double], scale: ColourScale, field: VisualFieldPlacement) -> Canvas {
        let colours = response.map(scale.colour(for:))
        let legend = ColourBar(scale: scale, label: "response").render(length: fieldSize - 40)
        return panel(field: fieldCanvas(colours: colours, field: field), legend: legend).titled(BitmapFont.bold.truncated(title, toWidth: 360))
    }

    /// The field beside its legend, the legend centred on the field's height.
    static func panel(field: Canvas, legend: Canvas) -> Canvas {
        var out = Canvas(width: field.width + 8 + legend.width, height: max(field.height, legend.height))
        out.draw(field, x: 0, y: (out.height - field.height) / 2)
        out.draw(legend, x: field.width + 8, y: (out.height - legend.height) / 2 - 10)
        return out
    }

    /// The visual field: a grey disc with eccentricity circles and meridians, the voxels' discs
    /// (largest first, so small foveal pRFs stay visible), a fixation cross, and a degree scale below.
    static func fieldCanvas(colours: [Colour], field: VisualFieldPlacement) -> Canvas {
        let margin = 6, size = fieldSize
        let scaleHeight = 30
        var canvas = Canvas(width: size + 2 * margin, height: size + 2 * margin + scaleHeight)
        let centre = Point(Double(margin) + Double(size) / 2, Double(margin) + Double(size) / 2)
        let pixelsPerDegree = Double(size) / 2 / field.fieldRadius
        canvas.fillDisc(centre: centre, radius: Double(size) / 2, Colour(grey: 228))
        let guide = Colour(grey: 190)
        for eccentricity in guideEccentricities(field.fieldRadius) {
            canvas.strokeCircle(centre: centre, radius: eccentricity * pixelsPerDegree, guide)
        }
        canvas.drawLine(from: Point(centre.x - Double(size) / 2, centre.y), to: Point(centre.x + Double(size) / 2, centre.y), guide)
        canvas.drawLine(from: Point(centre.x, centre.y - Double(size) / 2), to: Point(centre.x, centre.y + Double(size) / 2), guide)
        for v in field.sigma.indices.sorted(by: { field.sigma[$0] > field.sigma[$1] }) {
            let at = Point(centre.x + Double(field.x[v]) * pixelsPerDegree, centre.y - Double(field.y[v]) * pixelsPerDegree)
            let radius = max(2.5, Double(field.sigma[v]) / 2 * pixelsPerDegree)
            // A darker rim keeps discs apart from each other and from the background.
            canvas.fillDisc(centre: at, radius: radius, colours[v].mixed(with: .black, amount: 0.35))
            canvas.fillDisc(centre: at, radius: radius - 1, colours[v])
        }
        canvas.strokeCircle(centre: centre, radius: Double(size) / 2, Colour(grey: 120))
        // Fixation: a black cross on a white one, visible on any colour.
        canvas.drawCross(centre: centre, size: 13, .white, lineWidth: 4)
        canvas.drawCross(centre: centre, size: 11, .black, lineWidth: 2)
        // Degree scale along the horizontal meridian, below the field.
        let axisY = Double(margin + size + 6)
        canvas.drawLine(from: Point(centre.x - Double(size) / 2, axisY), to: Point(centre.x + Double(size) / 2, axisY), .ink)
        let ticks = Ticks.nice(in: -field.fieldRadius...field.fieldRadius, count: 4)
        for (tick, label) in zip(ticks, Ticks.labels(for: ticks)) {
            let px = centre.x + tick * pixelsPerDegree
            canvas.drawLine(from: Point(px, axisY), to: Point(px, axisY + 4), .ink)
            canvas.drawText(label + "°", at: Point(px, axisY + 6), anchor: .top, font: .small)
        }
        return canvas
    }

    /// Eccentricities of the guide circles: 1, 2, 4, 8, … degrees inside the field.
    static func guideEccentricities(_ radius: Double) -> [Double] {
        var values: [Double] = [], e = 1.0
        while e < radius * 0.98 { values.append(e); e *= 2 }
        return values
    }

    /// The model, subject and selection, and how to read the discs.
    static func header(for result: EncodingResult, field: VisualFieldPlacement, hiddenImages: Int, width: Int) -> Canvas {
        var parts: [String] = []
        if case .string(let model)? = result.metadata["model_id"] { parts.append(model) }
        if case .int(let subject)? = result.metadata["subject"] { parts.append("subject \(subject)") }
        if case .group(let selection)? = result.metadata["selection"] {
            for (key, value) in selection.entries { if case .string(let text) = value { parts.append("\(key) \(text)") } }
        }
        parts.append("\(field.x.count) voxels")
        let circles = guideEccentricities(field.fieldRadius).map { Ticks.labels(for: [$0])[0] + "°" }.joined(separator: ", ")
        var note = "Each disc is one voxel's population receptive field: at its centre, radius σ/2. + marks fixation"
        note += circles.isEmpty ? "." : "; circles at \(circles)."
        if hiddenImages > 0 { note += " \(hiddenImages) more images not shown." }
        let (bold, small) = (BitmapFont.bold, BitmapFont.small)
        let title = bold.wrapped(parts.joined(separator: " · "), toWidth: max(width - 24, 200))
        let lines = small.wrapped(note, toWidth: max(width - 24, 200))
        var canvas = Canvas(width: width, height: 12 + title.count * bold.lineHeight + 4 + lines.count * small.lineHeight + 4)
        canvas.drawText(title.joined(separator: "\n"), at: Point(12, 12), font: bold)
        canvas.drawText(lines.joined(separator: "\n"), at: Point(12, Double(12 + title.count * bold.lineHeight + 4)),
                        font: small, colour: Colour(grey: 70))
        return canvas
    }
}
