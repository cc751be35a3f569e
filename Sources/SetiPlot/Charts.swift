import Foundation

/// A named series of (x, y) points for a line chart.
public struct Series {
    public var name: String
    public var points: [(Double, Double)]
    public var color: RGB

    public init(name: String, points: [(Double, Double)], color: RGB) {
        self.name = name
        self.points = points
        self.color = color
    }
}

/// Line charts side by side (e.g. loss and accuracy per epoch), with axes, ticks and legends.
public func renderLineCharts(_ panels: [(title: String, xLabel: String, series: [Series])], heading: String) -> RGBImage {
    let panelW = 520, panelH = 360, margin = 20, top = 40
    var image = RGBImage(width: margin + panels.count * (panelW + margin), height: top + panelH + margin)
    image.text(heading, x: margin, y: 12, scale: 2)
    for (p, panel) in panels.enumerated() {
        let x0 = margin + p * (panelW + margin), y0 = top
        let plotX = x0 + 70, plotY = y0 + 30, plotW = panelW - 90, plotH = panelH - 80
        image.text(panel.title, x: x0, y: y0, scale: 2)
        let all = panel.series.flatMap(\.points).filter { $0.1.isFinite }
        guard let xMin = all.map(\.0).min(), let xMax = all.map(\.0).max(),
              var yMin = all.map(\.1).min(), var yMax = all.map(\.1).max() else { continue }
        if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
        let pad = (yMax - yMin) * 0.05
        yMin -= pad; yMax += pad
        func px(_ x: Double) -> Int { plotX + Int((x - xMin) / max(xMax - xMin, 1e-9) * Double(plotW)) }
        func py(_ y: Double) -> Int { plotY + plotH - Int((y - yMin) / (yMax - yMin) * Double(plotH)) }
        for i in 0...4 {
            let y = yMin + (yMax - yMin) * Double(i) / 4
            image.line(plotX, py(y), plotX + plotW, py(y), color: .lightGray)
            image.text(String(format: "%.3f", y), x: x0 + 4, y: py(y) - 4, scale: 1, color: .gray)
            let x = xMin + (xMax - xMin) * Double(i) / 4
            image.text(String(format: "%.0f", x), x: px(x) - 4, y: plotY + plotH + 6, scale: 1, color: .gray)
        }
        image.strokeRect(x: plotX, y: plotY, width: plotW + 1, height: plotH + 1, color: .gray)
        image.text(panel.xLabel, x: plotX + plotW / 2 - 20, y: plotY + plotH + 20, scale: 1, color: .black)
        for (n, s) in panel.series.enumerated() {
            let pts = s.points.filter { $0.1.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) { image.line(px(a.0), py(a.1), px(b.0), py(b.1), color: s.color, thickness: 2) }
            for pt in pts { image.fill(x: px(pt.0) - 2, y: py(pt.1) - 2, width: 5, height: 5, color: s.color) }
            image.fill(x: plotX + plotW - 150, y: plotY + 10 + 14 * n, width: 14, height: 4, color: s.color)
            image.text(s.name, x: plotX + plotW - 130, y: plotY + 7 + 14 * n, scale: 1, color: .black)
        }
    }
    return image
}

/// A confusion matrix as a heat map: rows true class, columns predicted, cells coloured by
/// the fraction of the row and labelled with counts.
public func renderConfusionMatrix(_ counts: [[Int]], classNames: [String], heading: String) -> RGBImage {
    let k = counts.count, cell = 90, left = 20 + 12 * (classNames.map(\.count).max() ?? 8), top = 80
    var image = RGBImage(width: left + k * cell + 40, height: top + k * cell + 90)
    image.text(heading, x: 20, y: 12, scale: 2)
    image.text("predicted", x: left + k * cell / 2 - 50, y: top - 40, scale: 2)
    for c in 0..<k {
        let name = String(classNames[c].prefix(12))
        image.text(name, x: left + c * cell + 4, y: top - 18, scale: 1)
        image.text(classNames[c], x: 10, y: top + c * cell + cell / 2 - 6, scale: 2)
    }
    for r in 0..<k {
        let total = max(1, counts[r].reduce(0, +))
        for c in 0..<k {
            let fraction = Double(counts[r][c]) / Double(total)
            let color = Viridis.color(fraction)
            image.fill(x: left + c * cell, y: top + r * cell, width: cell - 2, height: cell - 2, color: color)
            let label = "\(counts[r][c])"
            image.text(label, x: left + c * cell + (cell - RGBImage.textWidth(label, scale: 3)) / 2, y: top + r * cell + cell / 2 - 10,
                       scale: 3, color: fraction > 0.6 ? .black : .white)
        }
    }
    image.text("rows: true class, colour: fraction of the row", x: 20, y: top + k * cell + 20, scale: 2, color: .gray)
    return image
}
