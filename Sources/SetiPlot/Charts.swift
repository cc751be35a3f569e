import Foundation

/// A named series of (x, y) points for a line chart. A non-finite y is a gap in the line.
public struct Series {
    public var name: String
    public var points: [(Double, Double)]
    public var color: RGB
    /// Per point, an interval drawn as an error bar (e.g. a 95% confidence interval).
    public var intervals: [(Double, Double)]?
    /// Per point, a note drawn beside it (e.g. "n=40").
    public var notes: [String]?

    public init(name: String, points: [(Double, Double)], color: RGB, intervals: [(Double, Double)]? = nil, notes: [String]? = nil) {
        self.name = name
        self.points = points
        self.color = color
        self.intervals = intervals
        self.notes = notes
    }
}

/// One chart of a row of charts.
public struct ChartPanel {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var integerX: Bool
    /// A vertical line with its label (the best epoch).
    public var marker: (x: Double, label: String)?
    /// Fixed y range (recall: 0...1), else the data's.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], integerX: Bool = true,
                marker: (x: Double, label: String)? = nil, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.integerX = integerX
        self.marker = marker
        self.yRange = yRange
    }
}

/// Line charts side by side (loss, accuracy and learning rate per epoch; recall by signal
/// strength), each with axes, round ticks, its legend under it and an optional marker.
public func renderLineCharts(_ panels: [ChartPanel], heading: String) -> Figure {
    let panelWidth = 420.0, panelHeight = 330.0, margin = 16.0, top = 40.0
    let width = margin + Double(max(1, panels.count)) * (panelWidth + margin)
    return Figure(width: Int(width), height: Int(top + panelHeight + margin)) { canvas in
        canvas.text(heading, x: margin, y: 24, size: 15, bold: true, maxWidth: width - 2 * margin)
        for (p, panel) in panels.enumerated() {
            let x0 = margin + Double(p) * (panelWidth + margin)
            canvas.text(panel.title, x: x0 + panelWidth / 2, y: top + 14, size: 12, bold: true, align: .center, maxWidth: panelWidth)
            let points = panel.series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
            let intervalEnds = panel.series.flatMap { $0.intervals ?? [] }.flatMap { [$0.0, $0.1] }
            let area = PlotArea(frame: Rect(x0 + 62, top + 26, panelWidth - 78, panelHeight - 122),
                                x: PlotArea.range(points.map(\.0), pad: 0.03),
                                y: panel.yRange ?? PlotArea.range(points.map(\.1) + intervalEnds, pad: 0.06, minimumWidth: 0.1))
            area.drawAxes(on: canvas, xLabel: panel.xLabel, yLabel: panel.yLabel, integerX: panel.integerX)
            guard !points.isEmpty else {
                canvas.text("no data", x: area.frame.x + area.frame.width / 2, y: area.frame.y + area.frame.height / 2, size: 11, .gray, align: .center)
                continue
            }
            if let marker = panel.marker, area.x.contains(marker.x) {
                canvas.line([(area.px(marker.x), area.frame.y), (area.px(marker.x), area.frame.maxY)], .gray, dashed: true)
                canvas.text(marker.label, x: area.px(marker.x) + 3, y: area.frame.y + 11, size: 9, .gray, maxWidth: area.frame.maxX - area.px(marker.x) - 4)
            }
            for s in panel.series {
                canvas.line(s.points.map { (area.px($0.0), $0.1.isFinite ? area.py($0.1) : .nan) }, s.color, lineWidth: 2)
                for (i, point) in s.points.enumerated() where point.0.isFinite && point.1.isFinite {
                    let x = area.px(point.0)
                    if let intervals = s.intervals, i < intervals.count {
                        canvas.line([(x, area.py(intervals[i].0)), (x, area.py(intervals[i].1))], s.color)
                        for end in [intervals[i].0, intervals[i].1] { canvas.line([(x - 3, area.py(end)), (x + 3, area.py(end))], s.color) }
                    }
                    canvas.dot(x, area.py(point.1), radius: 2.5, s.color)
                    if let notes = s.notes, i < notes.count {
                        canvas.text(notes[i], x: x + 4, y: area.py(point.1) - 4, size: 8, s.color, maxWidth: 60)
                    }
                }
            }
            var legendX = area.frame.x, legendY = area.frame.maxY + 48
            for s in panel.series {
                let room = area.frame.maxX - legendX - 20
                if room < 40 { legendX = area.frame.x; legendY += 15 }
                canvas.line([(legendX, legendY - 4), (legendX + 14, legendY - 4)], s.color, lineWidth: 3)
                legendX += 20 + canvas.text(s.name, x: legendX + 18, y: legendY, size: 10, maxWidth: area.frame.maxX - legendX - 20) + 12
            }
        }
    }
}

/// A confusion matrix as a heat map: rows true class, columns predicted, cells coloured by
/// the fraction of the row and labelled with the count and that fraction.
public func renderConfusionMatrix(_ counts: [[Int]], classNames: [String], heading: String) -> Figure {
    let k = counts.count
    let cell = 84.0, left = 190.0, top = 96.0
    let width = max(left + Double(k) * cell + 30, 520), height = top + Double(k) * cell + 50
    return Figure(width: Int(width), height: Int(height)) { canvas in
        canvas.text(heading, x: 16, y: 24, size: 15, bold: true, maxWidth: width - 32)
        canvas.text("predicted class", x: left + Double(k) * cell / 2, y: top - 40, size: 11, bold: true, align: .center, maxWidth: Double(k) * cell)
        canvas.verticalText("true class", x: 24, y: top + Double(k) * cell / 2, size: 11, maxWidth: Double(k) * cell)
        for c in 0..<k {
            let name = c < classNames.count ? classNames[c] : "class \(c)"
            canvas.text(name, x: left + (Double(c) + 0.5) * cell, y: top - 10, size: 9, align: .center, maxWidth: cell - 4)
            canvas.text(name, x: left - 8, y: top + (Double(c) + 0.5) * cell + 4, size: 10, align: .right, maxWidth: left - 44)
        }
        for r in 0..<k {
            let total = counts[r].reduce(0, +)
            for c in 0..<min(k, counts[r].count) {
                let fraction = total > 0 ? Double(counts[r][c]) / Double(total) : 0
                let box = Rect(left + Double(c) * cell, top + Double(r) * cell, cell - 2, cell - 2)
                canvas.fill(box, Viridis.color(fraction))
                let ink: RGB = fraction > 0.6 ? .black : .white
                canvas.text("\(counts[r][c])", x: box.x + box.width / 2, y: box.y + box.height / 2, size: 15, bold: true, ink, align: .center, maxWidth: cell - 8)
                canvas.text(String(format: "%.0f%%", 100 * fraction), x: box.x + box.width / 2, y: box.y + box.height / 2 + 17, size: 10, ink, align: .center, maxWidth: cell - 8)
            }
        }
        canvas.text("colour and percentage: fraction of the true class's row", x: 16, y: height - 16, size: 9, .gray, maxWidth: width - 32)
    }
}
