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

/// Renders tiles in a grid, each spectrogram magnified `scale` times with the viridis map
/// on inverted pixels, so strong signal is bright yellow on a dark background.
public func renderSpectrogramGrid(
    _ tiles: [SpectrogramTile], columns: Int, height: Int, width: Int, scale: Int = 2, heading: String
) -> RGBImage {
    let rows = (tiles.count + columns - 1) / columns
    let hasSubtitles = tiles.contains { $0.subtitle != nil }
    let caption = hasSubtitles ? 36 : 22, gap = 14, margin = 16, top = 44
    let tileW = width * scale, tileH = height * scale
    var image = RGBImage(
        width: 2 * margin + columns * tileW + (columns - 1) * gap,
        height: top + rows * (caption + tileH + gap) + 24)
    image.text(heading, x: margin, y: 12, scale: 2)
    for (n, tile) in tiles.enumerated() {
        let x0 = margin + (n % columns) * (tileW + gap)
        let y0 = top + (n / columns) * (caption + tileH + gap)
        image.text(tile.title, x: x0, y: y0, scale: 2, color: tile.highlight ? .red : .black)
        if let subtitle = tile.subtitle {
            image.text(subtitle, x: x0, y: y0 + 16, scale: 2, color: tile.highlight ? .red : .gray)
        }
        let base = tile.pixels.startIndex
        for t in 0..<height {
            for f in 0..<width {
                let color = Viridis.color(1 - Double(tile.pixels[base + t * width + f]))
                image.fill(x: x0 + f * scale, y: y0 + caption + t * scale, width: scale, height: scale, color: color)
            }
        }
        image.strokeRect(x: x0 - 1, y: y0 + caption - 1, width: tileW + 2, height: tileH + 2, color: .gray)
    }
    image.text("time down, frequency across, bright = strong power", x: margin, y: image.height - 20, scale: 1, color: .gray)
    return image
}
