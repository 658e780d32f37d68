import Foundation

extension RetinotopyStimuli {
    /// The four stimulus families, each sweeping one position across the visual field.
    public enum Family: String, CaseIterable, Sendable {
        /// Expanding rings: eccentricity.
        case ring
        /// Rotating wedges: polar angle.
        case wedge
        /// Vertical bars sweeping left to right: horizontal position x.
        case barX = "bar-x"
        /// Horizontal bars sweeping bottom to top: vertical position y.
        case barY = "bar-y"

        /// The family and step of a stimulus name such as `ring-3`, `bar-x-5.png` or
        /// `stimuli/wedge-0.png`; nil for any other name.
        public static func parse(_ name: String) -> (family: Family, step: Int)? {
            let stem = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
            guard let dash = stem.lastIndex(of: "-"), let step = Int(stem[stem.index(after: dash)...]), step >= 0,
                  let family = Family(rawValue: String(stem[..<dash])) else { return nil }
            return (family, step)
        }

        /// Where step `step` of the family stimulates, in degrees: a ring's central eccentricity,
        /// a wedge's centre angle (counter-clockwise from the right), a bar's centre x or y.
        public func position(step: Int, fieldRadius: Double) -> Double {
            switch self {
            case .ring: return RetinotopyStimuli.ringCentre(step, fieldRadius: fieldRadius)
            case .wedge: return RetinotopyStimuli.wedgeCentre(step)
            case .barX, .barY:
                let band = RetinotopyStimuli.barBand(step, fieldRadius: fieldRadius)
                return (band.lowerBound + band.upperBound) / 2
            }
        }
    }

    /// Each voxel's preferred position along one family's sweep, in degrees (as
    /// `Family.position`): the mean position of the step that drives the voxel most and its
    /// two neighbours, weighted by the square of how far each response rises above the voxel's
    /// weakest response in the family (a circular mean for wedges, whose steps wrap around).
    /// This is the centre-of-mass reading of a travelling-wave retinotopy experiment; squaring
    /// sharpens it against compressive responses. NaN where the family drives the voxel not at
    /// all, or all steps alike.
    ///
    /// `responses` is [images, voxels] row-major; `images` gives the image of each step.
    public static func preferredPositions(_ family: Family, responses: [Float], voxels: Int,
                                          images: [(image: Int, step: Int)], fieldRadius: Double) -> [Double] {
        let ordered = images.sorted { $0.step < $1.step }
        let positions = ordered.map { family.position(step: $0.step, fieldRadius: fieldRadius) }
        let n = ordered.count
        return (0..<voxels).map { voxel in
            let r = ordered.map { Double(responses[$0.image * voxels + voxel]) }
            guard let peak = r.indices.max(by: { r[$0] < r[$1] }), let weakest = r.min(),
                  r[peak] > 0, r[peak] > weakest else { return .nan }
            var around = [peak]
            if family == .wedge {
                if n > 2 { around += [(peak + n - 1) % n, (peak + 1) % n] }
            } else {
                around += [peak - 1, peak + 1].filter { $0 >= 0 && $0 < n }
            }
            if family == .wedge {
                var (sx, sy) = (0.0, 0.0)
                for i in around {
                    let w = (r[i] - weakest) * (r[i] - weakest), a = positions[i] * .pi / 180
                    sx += w * cos(a)
                    sy += w * sin(a)
                }
                let angle = atan2(sy, sx) * 180 / .pi
                return angle < 0 ? angle + 360 : angle
            }
            let weights = around.map { (r[$0] - weakest) * (r[$0] - weakest) }
            return zip(around, weights).map { positions[$0] * $1 }.reduce(0, +) / weights.reduce(0, +)
        }
    }
}
