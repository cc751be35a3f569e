import CZlib
import Foundation
import SetiFiles

/// A decoded PNG file: every pixel as red, green and blue in [0, 1] (grey images have the
/// three equal; alpha is dropped). Reads all the standard colour types (grey, RGB,
/// palette, grey + alpha, RGBA) at every bit depth they allow, non-interlaced, checking
/// each chunk's CRC and the image data's size, so a damaged or hostile file is one
/// ``DataError`` naming it, never a trap or a huge allocation.
public struct PNGImage: Sendable {
    public let width: Int, height: Int
    /// Row-major, 3 values a pixel.
    public let rgb: [Float]
    /// Whether the file stores grey levels (colour types 0 and 4).
    public let isGrey: Bool

    /// Images larger than this many pixels are refused (the Kaggle images are 196,608).
    public static let maximumPixels = 1 << 24
    private static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads `url` (at most 64 MiB); every problem names the file.
    public init(contentsOf url: URL) throws {
        try self.init(data: try readInputFile(url, maximumBytes: 64 << 20, what: "a spectrogram picture (at most 64 MiB)", pipes: false), file: url.path)
    }

    /// Decodes a file's bytes; `file` names it in errors.
    public init(data: Data, file: String) throws {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> DataError { DataError(file: file, "not a readable PNG: \(reason)") }
        guard bytes.count >= 8, Array(bytes[0..<8]) == Self.signature else { throw fail("no PNG signature") }
        func uint32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var offset = 8
        var header: (width: Int, height: Int, depth: Int, colour: Int)?
        var palette: [UInt8] = []
        var compressed: [UInt8] = []
        var ended = false
        while !ended {
            guard offset + 12 <= bytes.count else { throw fail("truncated at byte \(offset) (no IEND chunk)") }
            let length = uint32(offset)
            guard length <= bytes.count - offset - 12 else { throw fail("chunk at byte \(offset) claims \(length) bytes, past the end of the file") }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let stored = UInt32(uint32(offset + 8 + length))
            let computed = bytes[(offset + 4)..<(offset + 8 + length)].withContiguousStorageIfAvailable {
                UInt32(crc32(0, $0.baseAddress, UInt32($0.count)))
            } ?? 0
            guard stored == computed else { throw fail("chunk \(type) at byte \(offset) fails its CRC check") }
            offset += 12 + length
            switch type {
            case "IHDR":
                guard length == 13 else { throw fail("IHDR of \(length) bytes, not 13") }
                let w = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                let h = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                let depth = Int(body[8]), colour = Int(body[9])
                guard w > 0, h > 0, w <= Self.maximumPixels / h else {
                    throw fail("\(w) x \(h) pixels (allowed 1 to \(Self.maximumPixels) pixels)")
                }
                let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard let depths = allowed[colour], depths.contains(depth) else { throw fail("colour type \(colour) at bit depth \(depth) is not a PNG format") }
                guard body[10] == 0, body[11] == 0 else { throw fail("unknown compression or filter method") }
                guard body[12] == 0 else { throw fail("interlaced (Adam7) images are not read; save it non-interlaced") }
                header = (w, h, depth, colour)
            case "PLTE":
                guard length % 3 == 0, length <= 768, length > 0 else { throw fail("palette of \(length) bytes") }
                palette = body
            case "IDAT":
                guard header != nil else { throw fail("image data before the header") }
                compressed += body
            case "IEND":
                ended = true
            default:
                guard header != nil || type == "IHDR" else { throw fail("first chunk is \(type), not IHDR") }
            }
        }
        guard let (w, h, depth, colour) = header else { throw fail("no IHDR chunk") }
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colour]!
        let bitsPerPixel = channels * depth
        let rowBytes = (w * bitsPerPixel + 7) / 8
        let expected = h * (rowBytes + 1)
        var raw = [UInt8](repeating: 0, count: expected)
        var produced = 0
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw fail("zlib cannot start") }
        defer { inflateEnd(&stream) }
        let status: Int32 = compressed.withUnsafeMutableBufferPointer { input in
            raw.withUnsafeMutableBufferPointer { output in
                stream.next_in = input.baseAddress
                stream.avail_in = UInt32(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = UInt32(output.count)
                let result = inflate(&stream, Z_FINISH)
                produced = output.count - Int(stream.avail_out)
                return result
            }
        }
        guard status == Z_STREAM_END || (status == Z_BUF_ERROR && stream.avail_out == 0) else {
            throw fail(produced < expected ? "image data end after \(produced) of \(expected) bytes" : "damaged image data (zlib status \(status))")
        }
        guard produced == expected else { throw fail("image data hold \(produced) bytes, a \(w) x \(h) image \(expected)") }
        if colour == 3 {
            guard !palette.isEmpty else { throw fail("palette image without a PLTE chunk") }
        }
        // Undo the per-row filters (PNG spec section 9) in place.
        let step = max(1, bitsPerPixel / 8)
        for r in 0..<h {
            let start = r * (rowBytes + 1), filter = raw[start]
            guard filter <= 4 else { throw fail("row \(r) has filter type \(filter)") }
            for i in 0..<rowBytes {
                let at = start + 1 + i
                let left = i >= step ? Int(raw[at - step]) : 0
                let up = r > 0 ? Int(raw[at - rowBytes - 1]) : 0
                let upLeft = r > 0 && i >= step ? Int(raw[at - rowBytes - 1 - step]) : 0
                let predictor: Int
                switch filter {
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let p = left + up - upLeft, pa = abs(p - left), pb = abs(p - up), pc = abs(p - upLeft)
                    predictor = pa <= pb && pa <= pc ? left : (pb <= pc ? up : upLeft)
                default: predictor = 0
                }
                raw[at] = UInt8(truncatingIfNeeded: Int(raw[at]) + predictor)
            }
        }
        // Samples of row r, channel-interleaved, as fractions of the depth's maximum.
        var rgb = [Float](repeating: 0, count: w * h * 3)
        let maximum = Float((1 << depth) - 1)
        for r in 0..<h {
            let row = r * (rowBytes + 1) + 1
            func sample(_ index: Int) -> Int {
                switch depth {
                case 16: return Int(raw[row + 2 * index]) << 8 | Int(raw[row + 2 * index + 1])
                case 8: return Int(raw[row + index])
                default:
                    let bit = index * depth, byte = raw[row + bit / 8]
                    return Int(byte >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
                }
            }
            for c in 0..<w {
                let out = (r * w + c) * 3
                switch colour {
                case 0, 4:
                    let v = Float(sample(c * channels)) / maximum
                    (rgb[out], rgb[out + 1], rgb[out + 2]) = (v, v, v)
                case 3:
                    let index = sample(c)
                    guard 3 * index + 2 < palette.count else { throw fail("pixel (\(c), \(r)) uses palette entry \(index) of \(palette.count / 3)") }
                    for k in 0..<3 { rgb[out + k] = Float(palette[3 * index + k]) / 255 }
                default:
                    for k in 0..<3 { rgb[out + k] = Float(sample(c * channels + k)) / maximum }
                }
            }
        }
        self.width = w
        self.height = h
        self.rgb = rgb
        self.isGrey = colour == 0 || colour == 4
    }
}
