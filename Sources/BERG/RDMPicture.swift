import BERGAnalysis
import BERGCore
import BERGPlot
import Foundation
import SwiftCSV

/// RDMs as heat maps in a grid, one panel per RDM with its name as title and its own colour
/// bar, as DNNBrain's Figure 3 draws them. With a labels table the stimuli are ordered by
/// their label (stably, numerically when every label is a number), and each group's first
/// row and column are labelled where the cells are large enough to read.
enum RDMPicture {
    /// Panels per row.
    static let columns = 4
    /// Larger RDMs are shown as block means on a grid of at most this many cells a side.
    static let maxCells = 256

    static func write(_ set: RDMSet, to path: String, labels: String?) throws {
        try draw(set, labels: labels).writePNG(to: path)
    }

    static func draw(_ set: RDMSet, labels labelsPath: String?) throws -> Canvas {
        let n = set.stimulusCount
        var order = Array(0..<n)
        var groupLabels: [String]? = nil
        if let labelsPath {
            let labels = try stimulusLabels(labelsPath, for: set)
            order = sortedOrder(labels)
            // Each label once, at the first stimulus of its group.
            groupLabels = order.indices.map { k in k == 0 || labels[order[k]] != labels[order[k - 1]] ? labels[order[k]] : "" }
        }
        let cells = min(n, maxCells)
        let panels = set.rdms.map { rdm -> Canvas in
            var heatMap = HeatMap(blockMeans(rdm, order: order, cells: cells), rows: cells, columns: cells)
            heatMap.title = rdm.name
            heatMap.colourBarLabel = set.measure.map(axisLabel) ?? "dissimilarity"
            if cells == n, let groupLabels {
                heatMap.rowLabels = groupLabels
                heatMap.columnLabels = groupLabels
            }
            return heatMap.render(width: 320, height: 300)
        }
        let subtitle = "\(n) stimuli" + (labelsPath != nil ? ", ordered by label" : "") + (cells < n ? ", shown as \(cells)×\(cells) block means" : "")
        return Canvas.grid(panels, columns: columns).captioned(subtitle)
    }

    static func axisLabel(_ measure: RDMMeasure) -> String {
        let base: String
        switch measure.metric {
        case .correlation: base = "1 − Pearson r"
        case .cosine: base = "1 − cosine similarity"
        case .euclidean: base = "Euclidean distance"
        case .sqeuclidean: base = "squared Euclidean distance"
        }
        return base + (measure.perUnit ? " / units" : "")
    }

    /// The RDM with its stimuli in `order`, averaged over blocks so that it is `cells` a side
    /// (NaN entries left out of the means; the diagonal counts as 0).
    static func blockMeans(_ rdm: RDM, order: [Int], cells: Int) -> [Float] {
        let n = rdm.stimulusCount
        var sums = [Double](repeating: 0, count: cells * cells), counts = [Int](repeating: 0, count: cells * cells)
        for i in 0..<n {
            let row = i * cells / n
            for j in 0..<n {
                let value = rdm[order[i], order[j]]
                guard !value.isNaN else { continue }
                sums[row * cells + j * cells / n] += value
                counts[row * cells + j * cells / n] += 1
            }
        }
        return zip(sums, counts).map { $1 > 0 ? Float($0 / Double($1)) : .nan }
    }

    /// Stimulus positions sorted by label, stably; numerically when every label is a number.
    static func sortedOrder(_ labels: [String]) -> [Int] {
        let numbers = labels.map { Double($0.trimmingCharacters(in: .whitespaces)) }
        if numbers.allSatisfy({ $0 != nil }) {
            return labels.indices.sorted { (numbers[$0]!, $0) < (numbers[$1]!, $1) }
        }
        return labels.indices.sorted { (labels[$0], $0) < (labels[$1], $1) }
    }

    /// One label per stimulus from a CSV table with a header row. When the RDMs name their
    /// stimuli and a column lists every name, rows are matched by that column and the label is
    /// the first other column; otherwise the rows are the stimuli in order and the label is the
    /// last column.
    static func stimulusLabels(_ path: String, for set: RDMSet) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { throw BERGError.fileNotFound(path: path, hint: nil) }
        let table: EnumeratedCSV
        do { table = try EnumeratedCSV(url: URL(fileURLWithPath: path), loadColumns: false) } catch {
            throw BERGError.corruptFile(path: path, offset: nil, message: "not a readable CSV table (\(error))")
        }
        let header = table.header, rows = table.rows
        guard !header.isEmpty, !rows.isEmpty else {
            throw BERGError.unexpectedContent(path: path, message: "the labels table needs a header row and one row per stimulus")
        }
        let names = set.stimulusNames
        let nameColumn = names.isEmpty ? nil : header.indices.first { column in
            Set(rows.map { $0[column] }).isSuperset(of: names)
        }
        if let nameColumn {
            guard let labelColumn = header.indices.first(where: { $0 != nameColumn }) else {
                throw BERGError.unexpectedContent(path: path, message: "the table has only the stimulus names (column '\(header[nameColumn])'); add a column of labels")
            }
            var byName: [String: String] = [:]
            for row in rows where byName[row[nameColumn]] == nil { byName[row[nameColumn]] = row[labelColumn] }
            return names.map { byName[$0]! }
        }
        guard rows.count == set.stimulusCount else {
            throw BERGError.unexpectedContent(path: path, message: "\(rows.count) rows of labels for \(set.stimulusCount) stimuli, and no column lists the stimulus names; give one row per stimulus in order, or a column of stimulus names")
        }
        return rows.map { $0[header.count - 1] }
    }
}
