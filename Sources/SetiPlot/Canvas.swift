import CCairo
import Foundation
import SetiFiles

public struct RGB: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let gray = RGB(110, 110, 110)
    public static let lightGray = RGB(225, 225, 225)
    public static let red = RGB(200, 40, 40)
    public static let green = RGB(30, 140, 60)
    public static let blue = RGB(40, 90, 200)
    public static let orange = RGB(230, 130, 20)
    public static let purple = RGB(140, 60, 160)
}

/// A picture: its size in points and how to draw it. Drawn with cairo and written as PNG,
/// SVG or PDF by the file's suffix (anything else is PNG), through ``OutputFile``.
public struct Figure {
    public let width: Int
    public let height: Int
    let draw: (Canvas) -> Void

    public init(width: Int, height: Int, draw: @escaping (Canvas) -> Void) {
        self.width = max(1, min(width, 32_000))
        self.height = max(1, min(height, 32_000))
        self.draw = draw
    }

    public enum Format: Sendable {
        case png, svg, pdf

        /// The format a file name asks for.
        public init(path: String) {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "svg": self = .svg
            case "pdf": self = .pdf
            default: self = .png
            }
        }
    }

    /// The picture's bytes in `format`.
    public func data(_ format: Format) throws -> Data {
        let sink = Sink()
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let write: cairo_write_func_t = { closure, bytes, length in
            guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }
        let surface: OpaquePointer?
        switch format {
        case .png: surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))
        case .svg: surface = cairo_svg_surface_create_for_stream(write, context, Double(width), Double(height))
        case .pdf: surface = cairo_pdf_surface_create_for_stream(write, context, Double(width), Double(height))
        }
        guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw PictureError(description: "cannot make a \(width) x \(height) picture (cairo: \(String(cString: cairo_status_to_string(cairo_surface_status(surface)))))")
        }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        let canvas = Canvas(cr, width: Double(width), height: Double(height))
        canvas.fill(Rect(0, 0, Double(width), Double(height)), .white)
        draw(canvas)
        cairo_destroy(cr)
        if format == .png {
            cairo_surface_flush(surface)
            guard cairo_surface_write_to_png_stream(surface, write, context) == CAIRO_STATUS_SUCCESS else {
                throw PictureError(description: "cannot encode the picture as PNG")
            }
        } else {
            cairo_surface_finish(surface)
        }
        return sink.data
    }

    /// Writes the picture in the format its suffix names; a failure names the file.
    public func write(to url: URL) throws {
        try OutputFile.write(try data(Format(path: url.path)), to: url)
    }

    private final class Sink { var data = Data() }
}

/// A picture that could not be made.
public struct PictureError: OneLineError {
    public let description: String
}

/// A rectangle in points: origin at the top left, y down.
public struct Rect: Equatable, Sendable {
    public var x, y, width, height: Double
    public init(_ x: Double, _ y: Double, _ width: Double, _ height: Double) { (self.x, self.y, self.width, self.height) = (x, y, width, height) }
    var maxX: Double { x + width }
    var maxY: Double { y + height }
}

/// Drawing calls over a cairo context, in points. Text is DejaVu Sans (fonts-dejavu-core),
/// measured by cairo: ``fitted(_:size:bold:width:)`` shortens a text until it fits, so no
/// caller draws past its room.
public final class Canvas {
    private let cr: OpaquePointer
    public let width: Double
    public let height: Double

    init(_ cr: OpaquePointer, width: Double, height: Double) {
        self.cr = cr
        self.width = width
        self.height = height
    }

    public enum Alignment { case left, center, right }

    private func color(_ c: RGB) { cairo_set_source_rgb(cr, Double(c.r) / 255, Double(c.g) / 255, Double(c.b) / 255) }

    private func font(_ size: Double, bold: Bool) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    /// Keeps every coordinate finite and in a range cairo's fixed point holds.
    private func safe(_ v: Double) -> Double { v.isFinite ? min(1e6, max(-1e6, v)) : 0 }

    public func fill(_ r: Rect, _ c: RGB) {
        color(c)
        cairo_rectangle(cr, safe(r.x), safe(r.y), safe(r.width), safe(r.height))
        cairo_fill(cr)
    }

    public func stroke(_ r: Rect, _ c: RGB, lineWidth: Double = 1) {
        color(c)
        cairo_set_line_width(cr, lineWidth)
        cairo_rectangle(cr, safe(r.x), safe(r.y), safe(r.width), safe(r.height))
        cairo_stroke(cr)
    }

    /// A polyline; a point with a non-finite coordinate breaks it (an empty bin is a gap,
    /// never a bridge).
    public func line(_ points: [(Double, Double)], _ c: RGB, lineWidth: Double = 1, dashed: Bool = false) {
        color(c)
        cairo_set_line_width(cr, lineWidth)
        var dash = [4.0, 3.0]
        cairo_set_dash(cr, &dash, dashed ? 2 : 0, 0)
        var open = false
        for (x, y) in points {
            guard x.isFinite, y.isFinite else { open = false; continue }
            if open { cairo_line_to(cr, safe(x), safe(y)) } else { cairo_move_to(cr, safe(x), safe(y)) }
            open = true
        }
        cairo_stroke(cr)
        cairo_set_dash(cr, nil, 0, 0)
    }

    public func dot(_ x: Double, _ y: Double, radius: Double, _ c: RGB) {
        guard x.isFinite, y.isFinite else { return }
        color(c)
        cairo_arc(cr, safe(x), safe(y), radius, 0, 2 * .pi)
        cairo_fill(cr)
    }

    /// The width of `text` as drawn.
    public func textWidth(_ text: String, size: Double, bold: Bool = false) -> Double {
        font(size, bold: bold)
        var extents = cairo_text_extents_t()
        cairo_text_extents(cr, text, &extents)
        return extents.x_advance
    }

    /// `text` shortened in the middle ("/a/long…/sim7") until it fits `width`.
    public func fitted(_ text: String, size: Double, bold: Bool = false, width: Double) -> String {
        guard textWidth(text, size: size, bold: bold) > width else { return text }
        let characters = Array(text)
        var keep = characters.count - 1
        while keep > 0 {
            let head = characters.prefix((keep + 1) / 2), tail = characters.suffix(keep / 2)
            let candidate = String(head) + "…" + String(tail)
            if textWidth(candidate, size: size, bold: bold) <= width { return candidate }
            keep -= max(1, keep / 8)
        }
        return textWidth("…", size: size, bold: bold) <= width ? "…" : ""
    }

    /// Draws `text` with its baseline at `y`, fitted to `maxWidth` when given; returns the
    /// width drawn.
    @discardableResult
    public func text(_ text: String, x: Double, y: Double, size: Double = 11, bold: Bool = false, _ c: RGB = .black,
                     align: Alignment = .left, maxWidth: Double? = nil) -> Double {
        let shown = maxWidth.map { fitted(text, size: size, bold: bold, width: max(0, $0)) } ?? text
        let w = textWidth(shown, size: size, bold: bold)
        let left = align == .left ? x : align == .center ? x - w / 2 : x - w
        color(c)
        cairo_move_to(cr, safe(left), safe(y))
        cairo_show_text(cr, shown)
        return w
    }

    /// Text turned a quarter left (a y axis's label), centred on (x, y).
    public func verticalText(_ text: String, x: Double, y: Double, size: Double = 11, _ c: RGB = .black, maxWidth: Double) {
        cairo_save(cr)
        cairo_translate(cr, safe(x), safe(y))
        cairo_rotate(cr, -.pi / 2)
        self.text(text, x: 0, y: 0, size: size, c, align: .center, maxWidth: maxWidth)
        cairo_restore(cr)
    }

    /// `rgb` (rows x columns, row-major) scaled into `r` pixel for pixel (nearest
    /// neighbour: a spectrogram's pixels stay sharp).
    public func image(_ rgb: [RGB], rows: Int, columns: Int, in r: Rect) {
        guard rows > 0, columns > 0, rgb.count >= rows * columns else { return }
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(columns), Int32(rows)) else { return }
        defer { cairo_surface_destroy(surface) }
        guard let base = cairo_image_surface_get_data(surface) else { return }
        let stride = Int(cairo_image_surface_get_stride(surface))
        for row in 0..<rows {
            let line = UnsafeMutableRawPointer(base + row * stride).assumingMemoryBound(to: UInt32.self)
            for column in 0..<columns {
                let c = rgb[row * columns + column]
                line[column] = UInt32(c.r) << 16 | UInt32(c.g) << 8 | UInt32(c.b)
            }
        }
        cairo_surface_mark_dirty(surface)
        cairo_save(cr)
        cairo_rectangle(cr, safe(r.x), safe(r.y), safe(r.width), safe(r.height))
        cairo_clip(cr)
        cairo_translate(cr, safe(r.x), safe(r.y))
        cairo_scale(cr, max(1e-6, r.width / Double(columns)), max(1e-6, r.height / Double(rows)))
        cairo_set_source_surface(cr, surface, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_paint(cr)
        cairo_restore(cr)
    }
}
