import Foundation

/// Tick values and their labels: round numbers (1, 2, 2.5 or 5 × 10^k apart) that people read at a glance.
public enum Ticks {
    /// About `count` round values inside `range` (both ends included when they are round).
    public static func nice(in range: ClosedRange<Double>, count: Int = 5) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span.isFinite, span > 0, count > 0 else { return range.lowerBound.isFinite ? [range.lowerBound] : [] }
        let step = niceStep(span / Double(count))
        let first = (range.lowerBound / step).rounded(.up), last = (range.upperBound / step).rounded(.down)
        guard last >= first, last - first < 1000 else { return [] }
        return stride(from: first, through: last, by: 1).map { index in
            let value = index * step
            return abs(value) < step * 1e-9 ? 0 : value   // no "-0"
        }
    }

    /// The round step (1, 2, 2.5 or 5 × 10^k) nearest above `rough`.
    static func niceStep(_ rough: Double) -> Double {
        let power = pow(10, (log10(rough)).rounded(.down))
        for multiple in [1, 2, 2.5, 5, 10] where multiple * power >= rough * 0.999 { return multiple * power }
        return 10 * power
    }

    /// Ticks for a logarithmic axis: powers of ten, with 2× and 5× between them when the range spans
    /// fewer than three decades. `range` must be positive.
    public static func logarithmic(in range: ClosedRange<Double>) -> [Double] {
        guard range.lowerBound > 0, range.upperBound.isFinite, range.upperBound >= range.lowerBound else { return [] }
        let low = Int(log10(range.lowerBound).rounded(.down)), high = Int(log10(range.upperBound).rounded(.up))
        let multiples: [Double] = high - low < 3 ? [1, 2, 5] : [1]
        var ticks: [Double] = []
        for exponent in low...max(low, high) {
            for multiple in multiples {
                let value = multiple * pow(10, Double(exponent))
                if value >= range.lowerBound * 0.999_999, value <= range.upperBound * 1.000_001 { ticks.append(value) }
            }
        }
        return ticks
    }

    /// A label for each tick with as many decimals as the spacing needs, and a real minus sign.
    public static func labels(for ticks: [Double]) -> [String] {
        let gaps = zip(ticks, ticks.dropFirst()).map { abs($1 - $0) }.filter { $0 > 0 }
        let smallest = gaps.min() ?? abs(ticks.first ?? 1)
        var decimals = 0
        while decimals < 6, smallest > 0, abs(smallest * pow(10, Double(decimals)) - (smallest * pow(10, Double(decimals))).rounded()) > 1e-6 * smallest * pow(10, Double(decimals)) {
            decimals += 1
        }
        // Ticks that are not evenly spaced (a log axis) need enough decimals for each value.
        for tick in ticks {
            while decimals < 6, abs(tick * pow(10, Double(decimals)) - (tick * pow(10, Double(decimals))).rounded()) > 1e-6 * max(abs(tick), 1e-12) * pow(10, Double(decimals)) {
                decimals += 1
            }
        }
        return ticks.map { label($0, decimals: decimals) }
    }

    /// `value` with `decimals` decimals, a thousands-free plain number, "−" for negatives.
    public static func label(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(max(decimals, 0))f", value)
        return text.hasPrefix("-") ? "−" + text.dropFirst() : text
    }
}
