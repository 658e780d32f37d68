import BERGCore
import Foundation

/// The random transforms a dream's image goes through at each step before the model sees it,
/// lucent's `transform.standard_transforms` in its order, with the values of issue 17:
///
/// 1. pad 12 on every side with 0.5 grey (`pad(12, mode="constant", constant_value=0.5)`);
/// 2. jitter 8: translate by (dx, dy), each drawn from 0..<8 (kornia's `translate`);
/// 3. scale by one of 1, 0.975, 1.025, 0.95, 1.05: bilinear (`align_corners=True`) to
///    ⌈s·side⌉, then zero padding back up to at least the side (`random_scale`);
/// 4. rotate by one of −5…5 degrees about the centre, bilinear, zeros outside (`random_rotate`);
/// 5. jitter 4: translate by (dx, dy), each drawn from 0..<4;
/// 6. bilinear (`align_corners=True`) to the model's input side (render_vis's
///    `fixed_image_size`).
///
/// lucent 0.1.8's own list scales by 0.90…1.10 in steps of 0.02 and rotates by −10…10°; the
/// smaller ranges above are the issue's.
public struct DreamTransforms: Sendable {
    public static let padding = 12
    public static let padFill: Float = 0.5
    public static let firstJitter = 8
    public static let scales: [Double] = [1, 0.975, 1.025, 0.95, 1.05]
    public static let angles: [Double] = (-5...5).map(Double.init)
    public static let secondJitter = 4

    /// The maps of one draw, in order.
    let maps: [PlaneResampling]

    /// One random draw for images of `side`, ending at `outputSide`.
    public init(side: Int, outputSide: Int, generator: inout SeededGenerator) {
        var maps: [PlaneResampling] = []
        var h = side, w = side
        func add(_ map: PlaneResampling) { maps.append(map); h = map.outHeight; w = map.outWidth }
        add(.pad(height: h, width: w, by: DreamTransforms.padding, fill: DreamTransforms.padFill))
        add(DreamTransforms.jitter(DreamTransforms.firstJitter, height: h, width: w, generator: &generator))
        // random_scale: ⌈s·d⌉ per side, then F.pad(x, [pad_y, pad_x] * 2), which pads the left
        // by pad_y, the right by pad_x, the top by pad_y and the bottom by pad_x.
        let s = DreamTransforms.scales[generator.nextIndex(DreamTransforms.scales.count)]
        let scaledH = Int((s * Double(h)).rounded(.up)), scaledW = Int((s * Double(w)).rounded(.up))
        let padX = max(0, Int((Double(w - scaledW) / 2).rounded(.up)))
        let padY = max(0, Int((Double(h - scaledH) / 2).rounded(.up)))
        add(.resize(height: h, width: w, toHeight: scaledH, width: scaledW))
        if padX > 0 || padY > 0 { add(.pad(height: h, width: w, top: padY, left: padY, bottom: padX, right: padX)) }
        // random_rotate: kornia's get_rotation_matrix2d (anticlockwise for positive angles)
        // about ((w − 1)/2, (h − 1)/2); the map needs its inverse.
        let angle = DreamTransforms.angles[generator.nextIndex(DreamTransforms.angles.count)] * Double.pi / 180
        let (a, b) = (cos(angle), sin(angle))
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        add(.korniaWarp(height: h, width: w, inverse: (a, -b, cx - a * cx + b * cy, b, a, cy - b * cx - a * cy)))
        add(DreamTransforms.jitter(DreamTransforms.secondJitter, height: h, width: w, generator: &generator))
        if h != outputSide || w != outputSide { add(.resize(height: h, width: w, toHeight: outputSide, width: outputSide)) }
        self.maps = maps
    }

    /// lucent's `jitter(d)`: kornia's `translate` by (dx, dy) drawn from 0..<d, dx first.
    static func jitter(_ d: Int, height: Int, width: Int, generator: inout SeededGenerator) -> PlaneResampling {
        let dx = Double(generator.nextIndex(d)), dy = Double(generator.nextIndex(d))
        return .korniaWarp(height: height, width: width, inverse: (1, 0, -dx, 0, 1, -dy))
    }

    /// Images [N, 3, side, side] → [N, 3, outputSide, outputSide].
    public func apply(_ images: Tensor) throws -> Tensor {
        let (n, c, _, _) = try images.nchw("dream transforms")
        var x = images.floats
        for map in maps { x = map.apply(x, planes: n * c) }
        return try Tensor(shape: [n, c, maps.last!.outHeight, maps.last!.outWidth], floats: x)
    }

    /// The gradient with respect to the images for the gradient with respect to the output.
    public func adjoint(_ gradient: Tensor) throws -> Tensor {
        let (n, c, _, _) = try gradient.nchw("dream transforms gradient")
        var g = gradient.floats
        for map in maps.reversed() { g = map.adjoint(g, planes: n * c) }
        return try Tensor(shape: [n, c, maps[0].inHeight, maps[0].inWidth], floats: g)
    }
}
