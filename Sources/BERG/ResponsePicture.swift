import BERGCore
import BERGFormats
import Foundation

extension BERG {
    /// Draws a visual-field-placed result (pRF models) as a PNG: one panel per stimulus family.
    public static func writeResponsePicture(_ result: EncodingResult, to path: String) throws {
        try ResponsePicture.write(result, stimulusNames: result.stimulusNames, to: path)
    }
}

/// Draws a pRF model's responses on the visual field: one panel per stimulus family (the
/// stimulus name up to its last `-`, e.g. `ring`, `wedge`), in which each voxel is a disc of
/// radius σ at its pRF centre, coloured by which stimulus of the family drives it most. Rings
/// thus show eccentricity preference, wedges polar-angle preference.
enum ResponsePicture {
    static let panel = 320

    static func write(_ result: EncodingResult, stimulusNames: [String], to path: String) throws {
        guard case .visualField(let field)? = result.placement else {
            throw BERGError.unsupported("a response picture needs a model whose outputs lie in the visual field (pRF models such as fmri-kay2013-css_prf)")
        }
        let (x, y, sigma, radius) = (field.x, field.y, field.sigma, field.fieldRadius)
        guard let responses = result.responses["responses"], responses.rank == 2,
              responses.shape[1] == x.count, x.count == y.count, x.count == sigma.count else {
            throw BERGError.invalidInput("a response picture needs one response array [images, voxels] that matches the pRFs")
        }
        let values = responses.floats
        let voxels = responses.shape[1]
        // Families in order of first appearance.
        var families: [(name: String, images: [Int])] = []
        for (index, name) in stimulusNames.enumerated() {
            let family = name.split(separator: "-").dropLast().joined(separator: "-")
            let key = family.isEmpty ? "all" : family
            if let f = families.firstIndex(where: { $0.name == key }) { families[f].images.append(index) }
            else { families.append((key, [index])) }
        }
        let width = panel * families.count, height = panel
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        // Larger discs first, so that small foveal pRFs stay visible.
        let order = (0..<voxels).sorted { sigma[$0] > sigma[$1] }
        for (f, family) in families.enumerated() {
            let left = f * panel
            let scale = Double(panel) / 2 / radius
            for row in 0..<panel {
                for column in 0..<panel {
                    let dx = Double(column) - Double(panel) / 2, dy = Double(row) - Double(panel) / 2
                    if (dx * dx + dy * dy).squareRoot() <= Double(panel) / 2 {
                        set(&rgb, width, left + column, row, (200, 200, 200))
                    }
                }
            }
            for v in order {
                var best = family.images[0]
                for image in family.images where values[image * voxels + v] > values[best * voxels + v] { best = image }
                let peak = values[best * voxels + v]
                let rank = family.images.firstIndex(of: best) ?? 0
                let colour = peak > 0 ? hue(Double(rank) / Double(max(family.images.count, 1))) : (128, 128, 128)
                let cx = Double(panel) / 2 + Double(x[v]) * scale, cy = Double(panel) / 2 - Double(y[v]) * scale
                let r = max(1.5, Double(sigma[v]) * scale * 0.5)
                let rows = max(0, Int(cy - r)), rowEnd = min(panel - 1, Int(cy + r))
                let columns = max(0, Int(cx - r)), columnEnd = min(panel - 1, Int(cx + r))
                guard cx.isFinite, cy.isFinite, rows <= rowEnd, columns <= columnEnd else { continue }   // off the panel
                for row in rows...rowEnd {
                    for column in columns...columnEnd {
                        let dx = Double(column) + 0.5 - cx, dy = Double(row) + 0.5 - cy
                        if dx * dx + dy * dy <= r * r { set(&rgb, width, left + column, row, colour) }
                    }
                }
            }
        }
        try ImageCodec.writePNG(rgb: rgb, width: width, height: height, to: path)
    }

    private static func set(_ rgb: inout [UInt8], _ width: Int, _ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        let i = (y * width + x) * 3
        rgb[i] = c.0; rgb[i + 1] = c.1; rgb[i + 2] = c.2
    }

    /// A fully saturated colour around the hue circle, t in [0, 1).
    private static func hue(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let h = t * 6, x = 1 - abs(h.truncatingRemainder(dividingBy: 2) - 1)
        let (r, g, b): (Double, Double, Double)
        switch Int(h) {
        case 0: (r, g, b) = (1, x, 0)
        case 1: (r, g, b) = (x, 1, 0)
        case 2: (r, g, b) = (0, 1, x)
        case 3: (r, g, b) = (0, x, 1)
        case 4: (r, g, b) = (x, 0, 1)
        default: (r, g, b) = (1, 0, x)
        }
        return (UInt8(r * 220), UInt8(g * 220), UInt8(b * 220))
    }
}
