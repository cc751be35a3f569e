import Foundation

/// The physical axes of a spectrogram tile: the values at its left and right edges and at
/// its top and bottom rows, with their names and units.
public struct SpectrogramAxes: Sendable {
    public var xLabel: String
    public var x: ClosedRange<Double>
    public var yLabel: String
    public var y: ClosedRange<Double>

    public init(xLabel: String, x: ClosedRange<Double>, yLabel: String, y: ClosedRange<Double>) {
        self.xLabel = xLabel
        self.x = x
        self.yLabel = yLabel
        self.y = y
    }
}

/// One tile of a spectrogram grid: the pixels (height x width, row-major, as in the data
/// files: signal dark) and the lines of text above it.
public struct SpectrogramTile {
    public var pixels: ArraySlice<Float>
    public var title: String
    public var subtitle: String?
    /// Draws the title in red (e.g. a wrong prediction).
    public var highlight: Bool
    /// Tiles of another group start a new row (one class per row).
    public var group: Int
    /// The tile's axes; without them, channels across and rows down.
    public var axes: SpectrogramAxes?

    public init(pixels: ArraySlice<Float>, title: String, subtitle: String? = nil, highlight: Bool = false, group: Int = 0, axes: SpectrogramAxes? = nil) {
        self.pixels = pixels
        self.title = title
        self.subtitle = subtitle
        self.highlight = highlight
        self.group = group
        self.axes = axes
    }
}

/// Tiles in rows of at most `columns`, every group on rows of its own, each spectrogram
/// drawn `scale` points a pixel with its axes. By default pixels are drawn as stored, in
/// grey (the public data: signal dark on a light background); `inverted` draws 1 - value
/// with the viridis map, so strong power is bright on dark.
public func renderSpectrogramGrid(
    _ tiles: [SpectrogramTile], columns: Int, height: Int, width: Int, scale: Double = 2, inverted: Bool = false, heading: String
) -> Figure {
    let columns = max(1, min(columns, 8))
    // Row and column of each tile: a new row when the row is full or the group changes.
    var places: [(row: Int, column: Int)] = []
    for (n, tile) in tiles.enumerated() {
        if let last = places.last {
            let newRow = last.column + 1 >= columns || tile.group != tiles[n - 1].group
            places.append(newRow ? (last.row + 1, 0) : (last.row, last.column + 1))
        } else {
            places.append((0, 0))
        }
    }
    let rows = (places.last?.row ?? -1) + 1
    let tileWidth = Double(max(1, width)) * scale, tileHeight = Double(max(1, height)) * scale
    let left = 62.0, caption = tiles.contains { $0.subtitle != nil } ? 34.0 : 20.0, below = 40.0, gap = 22.0, top = 44.0, margin = 16.0
    let cellWidth = left + tileWidth + gap, cellHeight = caption + tileHeight + below
    let footer = inverted ? "bright = strong power" : "dark = strong power"
    let pictureWidth = max(2 * margin + Double(columns) * cellWidth, 360)
    return Figure(width: Int(pictureWidth), height: Int(top + Double(rows) * cellHeight + 24)) { canvas in
        canvas.text(heading, x: margin, y: 26, size: 15, bold: true, maxWidth: pictureWidth - 2 * margin)
        for (tile, place) in zip(tiles, places) {
            let x0 = margin + Double(place.column) * cellWidth, y0 = top + Double(place.row) * cellHeight
            let ink: RGB = tile.highlight ? .red : .black
            canvas.text(tile.title, x: x0 + left, y: y0 + 13, size: 11, bold: true, ink, maxWidth: tileWidth)
            if let subtitle = tile.subtitle { canvas.text(subtitle, x: x0 + left, y: y0 + 27, size: 10, tile.highlight ? .red : .gray, maxWidth: tileWidth) }
            var colours = [RGB](repeating: .white, count: width * height)
            let base = tile.pixels.startIndex
            for i in 0..<min(colours.count, tile.pixels.count) {
                let value = Double(tile.pixels[base + i])
                if inverted {
                    colours[i] = Viridis.color(1 - value)
                } else {
                    let level = UInt8(min(255, max(0, (value.isFinite ? value : 0) * 255)).rounded())
                    colours[i] = RGB(level, level, level)
                }
            }
            let frame = Rect(x0 + left, y0 + caption, tileWidth, tileHeight)
            canvas.image(colours, rows: height, columns: width, in: frame)
            let axes = tile.axes ?? SpectrogramAxes(xLabel: "frequency channel", x: 0...Double(width), yLabel: "time row", y: 0...Double(height))
            let area = PlotArea(frame: frame, x: axes.x.lowerBound...max(axes.x.upperBound, axes.x.lowerBound + 1e-12),
                                y: axes.y.lowerBound...max(axes.y.upperBound, axes.y.lowerBound + 1e-12), yDown: true)
            area.drawAxes(on: canvas, xLabel: axes.xLabel, yLabel: axes.yLabel, grid: false)
        }
        canvas.text("time down, frequency across, \(footer)", x: margin, y: canvas.height - 10, size: 9, .gray, maxWidth: pictureWidth - 2 * margin)
    }
}
