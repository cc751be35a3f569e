import CZlib
import Foundation
import SetiFiles

/// An RGB image and its PNG encoding (8-bit truecolor, one zlib stream, CRC-checked
/// chunks), which any viewer opens.
public struct RGBImage {
    public let width: Int
    public let height: Int
    /// Row-major RGB triples.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = background.r; pixels[3 * i + 1] = background.g; pixels[3 * i + 2] = background.b }
    }

    public subscript(x: Int, y: Int) -> RGB {
        get { let i = 3 * (y * width + x); return RGB(pixels[i], pixels[i + 1], pixels[i + 2]) }
        set {
            guard x >= 0 && y >= 0 && x < width && y < height else { return }
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// The PNG file's bytes.
    public func pngData() -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + 3 * width))
        for y in 0..<height {
            raw.append(0)  // filter type None
            raw.append(contentsOf: pixels[(3 * y * width)..<(3 * (y + 1) * width)])
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 6)
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")

        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = [UInt8]()
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolor, deflate, no filter set, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", Array(compressed[0..<Int(compressedLength)]), to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Writes the PNG atomically (a temporary file renamed into place); a failure names the file.
    public func writePNG(to url: URL) throws {
        try OutputFile.write(pngData(), to: url)
    }

    private func appendChunk(_ type: String, _ body: [UInt8], to png: inout Data) {
        let typeBytes = Array(type.utf8)
        png.append(contentsOf: bigEndian(UInt32(body.count)))
        png.append(contentsOf: typeBytes)
        png.append(contentsOf: body)
        var crc = crc32(0, typeBytes, uInt(typeBytes.count))
        crc = body.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt(body.count)) }
        png.append(contentsOf: bigEndian(UInt32(crc)))
    }

    private func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}

public struct RGB: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let gray = RGB(150, 150, 150)
    public static let lightGray = RGB(225, 225, 225)
    public static let red = RGB(200, 40, 40)
    public static let green = RGB(30, 140, 60)
    public static let blue = RGB(40, 90, 200)
    public static let orange = RGB(230, 130, 20)
}
