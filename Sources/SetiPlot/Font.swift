/// A 5x7 bitmap font for titles and axis labels: upper-case letters (lower case is drawn
/// upper case), digits and common punctuation. Each glyph is 7 rows of 5 bits, the
/// leftmost pixel in bit 4.
enum Font {
    static let width = 5, height = 7, advance = 6

    static func glyph(_ c: Character) -> [UInt8] {
        // Some letters upper-case to two ("ß" -> "SS"): those draw as "?", as do
        // characters the font lacks.
        let upper = c.uppercased()
        guard upper.count == 1, let glyph = glyphs[Character(upper)] else { return glyphs["?"]! }
        return glyph
    }

    private static let glyphs: [Character: [UInt8]] = [
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        " ": [0, 0, 0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], ";": [0, 0x0C, 0x0C, 0, 0x0C, 0x04, 0x08], "!": [0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04], "-": [0, 0, 0, 0x1F, 0, 0, 0], "_": [0, 0, 0, 0, 0, 0, 0x1F],
        "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        "<": [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02], ">": [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        "?": [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04], "'": [0x04, 0x04, 0x08, 0, 0, 0, 0],
    ]
}

extension RGBImage {
    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide.
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGB = .black) {
        var cx = x
        for c in text {
            let rows = Font.glyph(c)
            for (r, bits) in rows.enumerated() {
                for col in 0..<Font.width where bits & (0x10 >> UInt8(col)) != 0 {
                    fill(x: cx + col * scale, y: y + r * scale, width: scale, height: scale, color: color)
                }
            }
            cx += Font.advance * scale
        }
    }

    /// Width in pixels of `text` at `scale`.
    public static func textWidth(_ text: String, scale: Int = 2) -> Int { max(0, text.count * Font.advance * scale - scale) }

    /// `text` shortened to fit `width` pixels at `scale`: characters from the middle are
    /// replaced by "..." (the ends of a path or a name say most), or nothing if even that
    /// does not fit.
    public static func fitted(_ text: String, width: Int, scale: Int = 2) -> String {
        guard textWidth(text, scale: scale) > width else { return text }
        let room = (width + scale) / (Font.advance * scale)  // characters that fit
        guard room >= 5 else { return room > 0 ? String(text.prefix(room)) : "" }
        let keep = room - 3, head = (keep + 1) / 2, tail = keep - head
        return String(text.prefix(head)) + "..." + String(text.suffix(tail))
    }

    /// Fills a rectangle; whatever lies outside the image is clipped.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(0, x), x1 = min(width, x.addingClamped(w)), y0 = max(0, y), y1 = min(height, y.addingClamped(h))
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            for xx in x0..<x1 { self[xx, yy] = color }
        }
    }

    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        line(x, y, x + w - 1, y, color: color); line(x, y + h - 1, x + w - 1, y + h - 1, color: color)
        line(x, y, x, y + h - 1, color: color); line(x + w - 1, y, x + w - 1, y + h - 1, color: color)
    }

    /// A line from (x0, y0) to (x1, y1), `thickness` pixels wide (Bresenham), clipped to
    /// the image (end points far outside are first pulled to its neighbourhood).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: RGB, thickness: Int = 1) {
        let limit = 4 * max(width, height) + 16
        func clamp(_ v: Int) -> Int { min(limit, max(-limit, v)) }
        let (x0, y0, x1, y1) = (clamp(x0), clamp(y0), clamp(x1), clamp(y1))
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            fill(x: x - thickness / 2, y: y - thickness / 2, width: thickness, height: thickness, color: color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }
}

extension Int {
    /// self + other, saturating instead of trapping on overflow.
    func addingClamped(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
