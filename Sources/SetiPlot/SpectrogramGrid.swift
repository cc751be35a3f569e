/// One tile of a spectrogram grid: the pixels (height x width, row-major, as in the data
/// files: signal dark) and the lines of text above it.
public struct SpectrogramTile {
    public var pixels: ArraySlice<Float>
    public var title: String
    public var subtitle: String?
    /// Draws the title in red (e.g. a wrong prediction).
    public var highlight: Bool

    public init(pixels: ArraySlice<Float>, title: String, subtitle: String? = nil, highlight: Bool = false) {
        self.pixels = pixels
        self.title = title
        self.subtitle = subtitle
        self.highlight = highlight
    }
}

/// Renders tiles in a grid, each spectrogram magnified `scale` times. By default pixels
/// are drawn as stored, in grey (the public data: signal dark on a light background);
/// `inverted` draws 1 - value with the viridis map, so strong power is bright yellow on
/// dark blue. Every text is shortened to fit its tile or the picture.
public func renderSpectrogramGrid(
    _ tiles: [SpectrogramTile], columns: Int, height: Int, width: Int, scale: Int = 2, inverted: Bool = false, heading: String
) -> RGBImage {
    let columns = max(1, columns)
    let rows = (tiles.count + columns - 1) / columns
    let hasSubtitles = tiles.contains { $0.subtitle != nil }
    let caption = hasSubtitles ? 36 : 22, gap = 14, margin = 16, top = 44
    let tileW = width * scale, tileH = height * scale
    let footer = inverted ? "time down, frequency across, bright = strong power" : "time down, frequency across, dark = strong power"
    let gridWidth = columns * tileW + (columns - 1) * gap
    var image = RGBImage(
        width: 2 * margin + max(gridWidth, RGBImage.textWidth(footer, scale: 1)),
        height: top + rows * (caption + tileH + gap) + 24)
    image.text(RGBImage.fitted(heading, width: image.width - 2 * margin, scale: 2), x: margin, y: 12, scale: 2)
    for (n, tile) in tiles.enumerated() {
        let x0 = margin + (n % columns) * (tileW + gap)
        let y0 = top + (n / columns) * (caption + tileH + gap)
        // Two lines per tile at most: shrink the font before shortening the text.
        func label(_ text: String, y: Int, color: RGB) {
            let scale = RGBImage.textWidth(text, scale: 2) <= tileW ? 2 : 1
            image.text(RGBImage.fitted(text, width: tileW, scale: scale), x: x0, y: y + (2 - scale) * 3, scale: scale, color: color)
        }
        label(tile.title, y: y0, color: tile.highlight ? .red : .black)
        if let subtitle = tile.subtitle { label(subtitle, y: y0 + 16, color: tile.highlight ? .red : .gray) }
        let base = tile.pixels.startIndex
        for t in 0..<height {
            for f in 0..<width where base + t * width + f < tile.pixels.endIndex {
                let value = Double(tile.pixels[base + t * width + f])
                let color: RGB
                if inverted {
                    color = Viridis.color(1 - value)
                } else {
                    let level = UInt8(min(255, max(0, (value.isFinite ? value : 0) * 255)).rounded())
                    color = RGB(level, level, level)
                }
                image.fill(x: x0 + f * scale, y: y0 + caption + t * scale, width: scale, height: scale, color: color)
            }
        }
        image.strokeRect(x: x0 - 1, y: y0 + caption - 1, width: tileW + 2, height: tileH + 2, color: .gray)
    }
    image.text(footer, x: margin, y: image.height - 20, scale: 1, color: .gray)
    return image
}
