import Foundation

/// One observation of a cadence in an event's picture: its power over the picture's
/// channels, its time span, its role and where the event's path runs through it.
public struct CadencePanel {
    /// rows x columns power values, time down, frequency ascending across.
    public var power: [Float]
    public var rows: Int
    public var columns: Int
    /// "ON" or "OFF", then the file's name.
    public var role: String
    public var name: String
    /// Seconds from the cadence's start at the panel's top and bottom.
    public var time: ClosedRange<Double>
    /// The path's frequency (MHz) at the panel's top and bottom.
    public var path: (top: Double, bottom: Double)
    /// The SNR measured along the path, and whether it counts as found.
    public var snr: Double
    public var found: Bool

    public init(power: [Float], rows: Int, columns: Int, role: String, name: String, time: ClosedRange<Double>,
                path: (top: Double, bottom: Double), snr: Double, found: Bool) {
        (self.power, self.rows, self.columns, self.role, self.name, self.time) = (power, rows, columns, role, name, time)
        (self.path, self.snr, self.found) = (path, snr, found)
    }
}

/// An event's cadence as Breakthrough Listen plots it: the observations stacked in time,
/// one panel each with the same frequency axis (MHz, `frequency` at the left and right
/// edges), time in seconds from the cadence's start, ON/OFF labels, and the drifted path
/// dashed over each panel. Each panel's power is scaled by its own median and robust
/// deviation (observations differ in gain), viridis from 2 deviations below to 10 above.
public func renderCadence(_ panels: [CadencePanel], frequency: ClosedRange<Double>, heading: String, subheading: String) -> Figure {
    let left = 78.0, right = 150.0, top = 58.0, panelHeight = 96.0, gap = 10.0, bottom = 58.0, plotWidth = 640.0
    let width = left + plotWidth + right
    let height = top + Double(panels.count) * (panelHeight + gap) - gap + bottom
    let span = frequency.upperBound > frequency.lowerBound ? frequency : frequency.lowerBound...(frequency.lowerBound + 1e-9)
    return Figure(width: Int(width), height: Int(height)) { canvas in
        canvas.text(heading, x: 16, y: 24, size: 15, bold: true, maxWidth: width - 32)
        canvas.text(subheading, x: 16, y: 42, size: 10, .gray, maxWidth: width - 32)
        for (i, panel) in panels.enumerated() {
            let frame = Rect(left, top + Double(i) * (panelHeight + gap), plotWidth, panelHeight)
            let values = panel.power.prefix(panel.rows * panel.columns).map { Double($0) }.filter(\.isFinite).sorted()
            let median = values.isEmpty ? 0 : values[values.count / 2]
            let deviations = values.map { abs($0 - median) }.sorted()
            let scale = deviations.isEmpty ? 1 : max(1.4826 * deviations[deviations.count / 2], 1e-30)
            let colours = (0..<(panel.rows * panel.columns)).map { k -> RGB in
                let v = k < panel.power.count ? Double(panel.power[k]) : median
                return Viridis.color(((v.isFinite ? v : median) - median) / scale / 12 + 2.0 / 12)
            }
            if panel.rows > 0 && panel.columns > 0 { canvas.image(colours, rows: panel.rows, columns: panel.columns, in: frame) }
            let time = panel.time.upperBound > panel.time.lowerBound ? panel.time : panel.time.lowerBound...(panel.time.lowerBound + 1)
            let area = PlotArea(frame: frame, x: span, y: time, yDown: true)
            area.drawAxes(on: canvas, xLabel: "frequency (MHz)", yLabel: "time (s)", grid: false, xAxis: i == panels.count - 1)
            let clip = { (x: Double) in min(frame.maxX, max(frame.x, x)) }
            canvas.line([(clip(area.px(panel.path.top)), frame.y), (clip(area.px(panel.path.bottom)), frame.maxY)], .red, lineWidth: 1.5, dashed: true)
            let ink: RGB = panel.role == "ON" ? .blue : .gray
            canvas.text(panel.role, x: frame.maxX + 10, y: frame.y + 16, size: 13, bold: true, ink)
            canvas.text(panel.name, x: frame.maxX + 10, y: frame.y + 32, size: 9, .gray, maxWidth: right - 16)
            canvas.text(String(format: "SNR %.1f", panel.snr), x: frame.maxX + 10, y: frame.y + 50, size: 10, maxWidth: right - 16)
            canvas.text(panel.found ? "found" : "not found", x: frame.maxX + 10, y: frame.y + 66, size: 10, bold: true,
                        panel.found ? (panel.role == "ON" ? .green : .red) : .gray, maxWidth: right - 16)
        }
        canvas.text("dashed: the hit's drift carried through the cadence; colour: power in robust deviations above each observation's median",
                    x: 16, y: canvas.height - 10, size: 9, .gray, maxWidth: width - 32)
    }
}
