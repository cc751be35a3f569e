import Foundation

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

/// A plotting area: data ranges mapped onto a rectangle of the picture.
struct PlotArea {
    var frame: Rect
    var x: ClosedRange<Double>
    var y: ClosedRange<Double>
    /// y grows downwards (time down a spectrogram) instead of up.
    var yDown = false

    func px(_ v: Double) -> Double { frame.x + (v - x.lowerBound) / (x.upperBound - x.lowerBound) * frame.width }
    func py(_ v: Double) -> Double {
        let share = (v - y.lowerBound) / (y.upperBound - y.lowerBound) * frame.height
        return yDown ? frame.y + share : frame.maxY - share
    }

    /// A range that can be drawn: finite, and widened when it is a single value.
    static func range(_ values: [Double], pad: Double = 0, minimumWidth: Double = 1) -> ClosedRange<Double> {
        let finite = values.filter(\.isFinite)
        guard var low = finite.min(), var high = finite.max() else { return 0...1 }
        if high - low < 1e-12 { low -= minimumWidth / 2; high += minimumWidth / 2 }
        let margin = (high - low) * pad
        return (low - margin)...(high + margin)
    }

    /// The frame, grid lines at round ticks with their labels, and the axis titles;
    /// without `xAxis`, the x ticks and title are left to a panel below.
    func drawAxes(on canvas: Canvas, xLabel: String, yLabel: String, integerX: Bool = false, grid: Bool = true, xAxis: Bool = true) {
        let yTicks = ticks(y.lowerBound, y.upperBound, target: yDown ? 4 : 5)
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        var widest = 0.0
        for t in yTicks {
            if grid { canvas.line([(frame.x, py(t)), (frame.maxX, py(t))], .lightGray) }
            canvas.line([(frame.x - 4, py(t)), (frame.x, py(t))], .gray)
            widest = max(widest, canvas.text(tickLabel(t, step: yStep), x: frame.x - 6, y: py(t) + 3.5, size: 9, .gray, align: .right))
        }
        canvas.stroke(frame, .gray)
        canvas.verticalText(yLabel, x: frame.x - widest - 14, y: frame.y + frame.height / 2, size: 10, maxWidth: frame.height)
        guard xAxis else { return }
        let xTicks = ticks(x.lowerBound, x.upperBound, target: max(2, min(8, Int(frame.width / 60))), integers: integerX)
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        for t in xTicks {
            canvas.line([(px(t), frame.maxY), (px(t), frame.maxY + 4)], .gray)
            canvas.text(tickLabel(t, step: xStep), x: px(t), y: frame.maxY + 14, size: 9, .gray, align: .center)
        }
        canvas.text(xLabel, x: frame.x + frame.width / 2, y: frame.maxY + 28, size: 10, align: .center, maxWidth: frame.width)
    }
}
