import BERGCore
import Foundation

/// The stimulus sets `berg stimuli` writes, and the check stimuli `berg publish` encodes.
extension BERG {
    /// The side of the default check stimuli, in pixels.
    public static let checkStimulusSize = 64

    /// Writes the procedural test images (`TestImages`) as PNG into `folder`; returns how many.
    @discardableResult
    public static func writeTestImages(to folder: String, size: Int) throws -> Int {
        try writeImages(to: folder, size: size) { TestImages.make(size: $0) }
    }

    /// Writes the default check stimuli (the retinotopy stimuli and the test images) as PNG
    /// into `folder`; returns how many. `berg publish` without `--check-input` encodes these.
    @discardableResult
    public static func writeCheckStimuli(to folder: String, size: Int = checkStimulusSize) throws -> Int {
        try writeImages(to: folder, size: size) { checkImages(size: $0) }
    }

    /// The default check stimuli as one stimulus, named as `writeCheckStimuli` names the files.
    public static func checkStimuli(size: Int = checkStimulusSize) throws -> Stimulus {
        try stimulus(checkImages(size: size), size: size)
    }

    /// Square images [H, W, 3] as one stimulus [N, 3, H, W].
    static func stimulus(_ images: [RetinotopyStimuli.Image], size: Int) throws -> Stimulus {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(images.count * 3 * size * size)
        for image in images {
            for channel in 0..<3 { for i in 0..<(size * size) { pixels.append(image.rgb[3 * i + channel]) } }
        }
        return try Stimulus(images: pixels, count: images.count, height: size, width: size, names: images.map(\.name))
    }

    static func checkImages(size: Int) -> [RetinotopyStimuli.Image] {
        // In name order, as a folder of them is read.
        (RetinotopyStimuli.make(size: size) + TestImages.make(size: size)).sorted { $0.name < $1.name }
    }
}
