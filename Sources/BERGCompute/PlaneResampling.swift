import BERGCore
import Foundation

/// A linear map between image planes in which each output pixel is a weighted sum of at most
/// four input pixels plus a constant: padding, translation, bilinear resizing and rotation.
/// The same map applies to every plane of a batch; `adjoint` carries gradients back.
struct PlaneResampling: Sendable {
    let inHeight: Int, inWidth: Int
    let outHeight: Int, outWidth: Int
    /// Four input offsets per output pixel (−1: no tap) and their weights.
    var taps: [Int32]
    var weights: [Float]
    /// A constant per output pixel (a padding's fill), or nil.
    var constant: [Float]?

    /// A map whose pixels each sample the input bilinearly at `source(y, x)` (pixel
    /// coordinates, pixel centres at integers), as `grid_sample` does with zeros padding:
    /// taps outside the input count as zero, or as `fill` when given.
    init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, fill: Float? = nil,
         source: (Int, Int) -> (y: Double, x: Double)) {
        self.inHeight = inHeight; self.inWidth = inWidth
        self.outHeight = outHeight; self.outWidth = outWidth
        let count = outHeight * outWidth
        var taps = [Int32](repeating: -1, count: 4 * count)
        var weights = [Float](repeating: 0, count: 4 * count)
        var constant = fill.map { _ in [Float](repeating: 0, count: count) }
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (sy, sx) = source(y, x)
                let y0 = Int(Foundation.floor(sy)), x0 = Int(Foundation.floor(sx))
                let fy = Float(sy - Double(y0)), fx = Float(sx - Double(x0))
                let p = y * outWidth + x
                // The four corners: (y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1).
                for t in 0..<4 {
                    let cy = y0 + t / 2, cx = x0 + t % 2
                    let w = (t / 2 == 0 ? 1 - fy : fy) * (t % 2 == 0 ? 1 - fx : fx)
                    guard w != 0 else { continue }
                    if cy >= 0, cy < inHeight, cx >= 0, cx < inWidth {
                        taps[4 * p + t] = Int32(cy * inWidth + cx)
                        weights[4 * p + t] = w
                    } else if let fill {
                        constant![p] += fill * w
                    }
                }
            }
        }
        self.taps = taps
        self.weights = weights
        self.constant = constant
    }

    /// `planes` planes of inHeight × inWidth → planes of outHeight × outWidth.
    func apply(_ x: [Float], planes: Int) -> [Float] {
        let inPlane = inHeight * inWidth, outPlane = outHeight * outWidth
        var out = [Float](repeating: 0, count: planes * outPlane)
        taps.withUnsafeBufferPointer { tp in
            weights.withUnsafeBufferPointer { wp in
                x.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { op in
                        let (t, w) = (tp.baseAddress!, wp.baseAddress!)
                        for plane in 0..<planes {
                            let src = xp.baseAddress! + plane * inPlane, dst = op.baseAddress! + plane * outPlane
                            if let constant { for p in 0..<outPlane { dst[p] = constant[p] } }
                            for i in 0..<(4 * outPlane) where t[i] >= 0 { dst[i >> 2] += w[i] * src[Int(t[i])] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The transpose: gradients of the output planes → gradients of the input planes.
    func adjoint(_ g: [Float], planes: Int) -> [Float] {
        let inPlane = inHeight * inWidth, outPlane = outHeight * outWidth
        var out = [Float](repeating: 0, count: planes * inPlane)
        taps.withUnsafeBufferPointer { tp in
            weights.withUnsafeBufferPointer { wp in
                g.withUnsafeBufferPointer { gp in
                    out.withUnsafeMutableBufferPointer { op in
                        let (t, w) = (tp.baseAddress!, wp.baseAddress!)
                        for plane in 0..<planes {
                            let src = gp.baseAddress! + plane * outPlane, dst = op.baseAddress! + plane * inPlane
                            for i in 0..<(4 * outPlane) where t[i] >= 0 { dst[Int(t[i])] += w[i] * src[i >> 2] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `F.pad(x, [p] * 4, value=fill)`.
    static func pad(height: Int, width: Int, by p: Int, fill: Float) -> PlaneResampling {
        PlaneResampling(inHeight: height, inWidth: width, outHeight: height + 2 * p, outWidth: width + 2 * p, fill: fill) {
            (Double($0 - p), Double($1 - p))
        }
    }

    /// Zero padding of `top`, `left`, `bottom`, `right` pixels.
    static func pad(height: Int, width: Int, top: Int, left: Int, bottom: Int, right: Int) -> PlaneResampling {
        PlaneResampling(inHeight: height, inWidth: width, outHeight: height + top + bottom, outWidth: width + left + right) {
            (Double($0 - top), Double($1 - left))
        }
    }

    /// `nn.Upsample(size=(outHeight, outWidth), mode="bilinear", align_corners=True)`: output
    /// pixel i samples input i · (in − 1) / (out − 1), in float32 as PyTorch computes it.
    static func resize(height: Int, width: Int, toHeight outHeight: Int, width outWidth: Int) -> PlaneResampling {
        func scale(_ input: Int, _ output: Int) -> Float { output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
        let sy = scale(height, outHeight), sx = scale(width, outWidth)
        return PlaneResampling(inHeight: height, inWidth: width, outHeight: outHeight, outWidth: outWidth) {
            // PyTorch never reads past the last pixel; float rounding may land a hair beyond it.
            (min(Double(sy * Float($0)), Double(height - 1)), min(Double(sx * Float($1)), Double(width - 1)))
        }
    }

    /// kornia's `warp_affine(x, M, dsize=(h, w))` as lucent calls it (bilinear, zeros outside,
    /// `align_corners=False` sampling of a matrix normalised as if it were True): output pixel
    /// (y, x) samples M⁻¹ q · n/(n − 1) − ½ per axis, with q = (p + ½)(n − 1)/n. For a square
    /// image a rotation about the centre stays exact; a translation by t moves t·n/(n − 1).
    static func korniaWarp(height: Int, width: Int, inverse m: (Double, Double, Double, Double, Double, Double)) -> PlaneResampling {
        let (h, w) = (Double(height), Double(width))
        return PlaneResampling(inHeight: height, inWidth: width, outHeight: height, outWidth: width) { y, x in
            let qx = (Double(x) + 0.5) * (w - 1) / w, qy = (Double(y) + 0.5) * (h - 1) / h
            let px = m.0 * qx + m.1 * qy + m.2, py = m.3 * qx + m.4 * qy + m.5
            return (py * h / (h - 1) - 0.5, px * w / (w - 1) - 0.5)
        }
    }
}
