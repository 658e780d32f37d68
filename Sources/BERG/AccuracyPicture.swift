import BERGAnalysis
import BERGPlot
import Foundation

/// `berg fit`'s accuracy.png: a histogram of the voxels' held-out scores (each voxel's mean over
/// the folds), with labelled axes and the median marked, as img2brain's figure shows a model's
/// accuracy.
enum AccuracyPicture {
    static func write(_ meanScores: [Double], settings: EncodingFitSettings, folds: Int, to path: String) throws {
        var histogram = Histogram(meanScores, bins: 40)
        let what = settings.score == .correlation ? "Pearson r" : "R²"
        let median = EncodingFit.median(meanScores)
        histogram.title = "Held-out accuracy of \(histogram.values.count) voxels"
        histogram.x.label = folds > 1 ? "\(what) between predicted and measured responses (mean of \(folds) folds)"
            : "\(what) between predicted and measured responses (validation rows)"
        histogram.y.label = "voxels"
        if median.isFinite { histogram.markers = [Marker(value: median, label: String(format: "median %.3f", median))] }
        try histogram.render(width: 640, height: 400).captioned(settings.pipelineDescription).writePNG(to: path)
    }
}
