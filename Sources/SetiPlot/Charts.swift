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

/// Tick positions for an axis: round steps (1, 2 or 5 times a power of ten) covering
/// `low...high`, about `target` of them; `integers` keeps steps whole (epochs).
func ticks(_ low: Double, _ high: Double, target: Int = 5, integers: Bool = false) -> [Double] {
    guard low.isFinite, high.isFinite, high > low else { return low.isFinite ? [low] : [] }
    let raw = (high - low) / Double(max(1, target))
    let power = pow(10, floor(log10(raw)))
    var step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
    if integers { step = max(1, step.rounded(.up)) }
    let first = (low / step).rounded(.up) * step
    return stride(from: first, through: high + step * 1e-9, by: step).map { $0 }
}

/// The label of a tick: as few decimals as the step needs.
func tickLabel(_ value: Double, step: Double) -> String {
    let decimals = step >= 1 ? 0 : min(6, Int((-log10(step)).rounded(.up)))
    let text = String(format: "%.\(decimals)f", value)
    // A tick at -1e-17 is zero, not "-0.0".
    return text.hasPrefix("-") && text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(text.dropFirst()) : text
}

/// Line charts side by side (e.g. loss and accuracy per epoch), with round ticks, integer
/// x ticks when `integerX`, and each panel's legend under it, outside the data.
public func renderLineCharts(_ panels: [(title: String, xLabel: String, series: [Series])], heading: String, integerX: Bool = true) -> RGBImage {
    let panelW = 520, panelH = 380, margin = 20, top = 40
    var image = RGBImage(width: margin + max(1, panels.count) * (panelW + margin), height: top + panelH + margin)
    image.text(RGBImage.fitted(heading, width: image.width - 2 * margin, scale: 2), x: margin, y: 12, scale: 2)
    for (p, panel) in panels.enumerated() {
        let x0 = margin + p * (panelW + margin), y0 = top
        let plotX = x0 + 70, plotY = y0 + 30, plotW = panelW - 90, plotH = panelH - 110
        image.text(RGBImage.fitted(panel.title, width: panelW, scale: 2), x: x0, y: y0, scale: 2)
        let all = panel.series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        guard var xMin = all.map(\.0).min(), var xMax = all.map(\.0).max(),
              var yMin = all.map(\.1).min(), var yMax = all.map(\.1).max() else { continue }
        if xMax - xMin < 1e-9 { xMin -= 1; xMax += 1 }
        if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
        let pad = (yMax - yMin) * 0.05
        yMin -= pad; yMax += pad
        func pixel(_ v: Double) -> Int { v.isFinite ? Int(min(1e6, max(-1e6, v))) : 0 }
        func px(_ x: Double) -> Int { plotX + pixel((x - xMin) / (xMax - xMin) * Double(plotW)) }
        func py(_ y: Double) -> Int { plotY + plotH - pixel((y - yMin) / (yMax - yMin) * Double(plotH)) }
        let yTicks = ticks(yMin, yMax)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        for y in yTicks {
            image.line(plotX, py(y), plotX + plotW, py(y), color: .lightGray)
            let label = tickLabel(y, step: yStep)
            image.text(label, x: plotX - 6 - RGBImage.textWidth(label, scale: 1), y: py(y) - 3, scale: 1, color: .gray)
        }
        let xTicks = ticks(xMin, xMax, target: 8, integers: integerX)
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        for x in xTicks {
            let label = tickLabel(x, step: xStep)
            image.line(px(x), plotY + plotH, px(x), plotY + plotH + 4, color: .gray)
            image.text(label, x: px(x) - RGBImage.textWidth(label, scale: 1) / 2, y: plotY + plotH + 8, scale: 1, color: .gray)
        }
        image.strokeRect(x: plotX, y: plotY, width: plotW + 1, height: plotH + 1, color: .gray)
        image.text(panel.xLabel, x: plotX + plotW / 2 - RGBImage.textWidth(panel.xLabel, scale: 1) / 2, y: plotY + plotH + 22, scale: 1, color: .black)
        var legendX = plotX
        for s in panel.series {
            let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) { image.line(px(a.0), py(a.1), px(b.0), py(b.1), color: s.color, thickness: 2) }
            for pt in pts { image.fill(x: px(pt.0) - 2, y: py(pt.1) - 2, width: 5, height: 5, color: s.color) }
            image.fill(x: legendX, y: plotY + plotH + 46, width: 14, height: 4, color: s.color)
            let name = RGBImage.fitted(s.name, width: plotX + plotW - legendX - 20, scale: 1)
            image.text(name, x: legendX + 20, y: plotY + plotH + 44, scale: 1, color: .black)
            legendX += 40 + RGBImage.textWidth(name, scale: 1)
        }
    }
    return image
}

/// A confusion matrix as a heat map: rows true class, columns predicted, cells coloured by
/// the fraction of the row and labelled with the count and that fraction.
public func renderConfusionMatrix(_ counts: [[Int]], classNames: [String], heading: String) -> RGBImage {
    let k = counts.count
    let longest = classNames.map { RGBImage.textWidth($0, scale: 1) }.max() ?? 0
    let cell = max(100, longest + 12), left = 40 + max(longest * 2 + 12, 60), top = 100
    var image = RGBImage(width: max(left + k * cell + 40, 600), height: top + k * cell + 70)
    image.text(RGBImage.fitted(heading, width: image.width - 40, scale: 2), x: 20, y: 12, scale: 2)
    image.text("predicted", x: left + k * cell / 2 - RGBImage.textWidth("predicted", scale: 2) / 2, y: top - 44, scale: 2)
    image.text("true", x: 6, y: top - 20, scale: 2)
    for c in 0..<k {
        let name = c < classNames.count ? classNames[c] : "class \(c)"
        image.text(RGBImage.fitted(name, width: cell - 6, scale: 1), x: left + c * cell + 4, y: top - 16, scale: 1)
        let scale = RGBImage.textWidth(name, scale: 2) <= left - 46 ? 2 : 1
        image.text(RGBImage.fitted(name, width: left - 46, scale: scale), x: 40, y: top + c * cell + cell / 2 - 6, scale: scale)
    }
    for r in 0..<k {
        let total = counts[r].reduce(0, +)
        for c in 0..<k {
            let fraction = total > 0 ? Double(counts[r][c]) / Double(total) : 0
            image.fill(x: left + c * cell, y: top + r * cell, width: cell - 2, height: cell - 2, color: Viridis.color(fraction))
            let ink: RGB = fraction > 0.6 ? .black : .white
            let count = "\(counts[r][c])", percent = String(format: "%.0f%%", 100 * fraction)
            let countScale = RGBImage.textWidth(count, scale: 3) <= cell - 8 ? 3 : 1
            image.text(count, x: left + c * cell + (cell - RGBImage.textWidth(count, scale: countScale)) / 2, y: top + r * cell + cell / 2 - 16,
                       scale: countScale, color: ink)
            image.text(percent, x: left + c * cell + (cell - RGBImage.textWidth(percent, scale: 2)) / 2, y: top + r * cell + cell / 2 + 12,
                       scale: 2, color: ink)
        }
    }
    image.text("rows: true class; colour and percentage: fraction of the row", x: 20, y: top + k * cell + 20, scale: 1, color: .gray)
    return image
}
