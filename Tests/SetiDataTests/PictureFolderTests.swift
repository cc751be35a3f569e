import CZlib
import Foundation
import XCTest
@testable import SetiData
import SetiTestSupport

/// Class folders of PNG pictures (the Kaggle copy of the ML4SETI data).
final class PictureFolderTests: ScratchFolderTestCase {
    override var scratchName: String { "png" }

    /// A PNG file: `rows` of samples already laid out for `colour` at `depth` bits.
    static func png(width: Int, height: Int, depth: Int, colour: Int, rows: [[UInt8]], palette: [UInt8] = [], filter: UInt8 = 0) -> Data {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            let crc = UInt32(typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) })
            return be(body.count) + typed + be(Int(crc))
        }
        func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        var raw: [UInt8] = []
        for row in rows {
            raw.append(filter)
            if filter == 1 {  // Sub, one byte per sample step
                let step = max(1, [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colour]! * depth / 8)
                raw += row.enumerated().map { i, v in i >= step ? v &- row[i - step] : v }
            } else {
                raw += row
            }
        }
        var size = compressBound(UInt(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(size))
        _ = compress2(&packed, &size, raw, UInt(raw.count), 6)
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        bytes += chunk("IHDR", be(width) + be(height) + [UInt8(depth), UInt8(colour), 0, 0, 0])
        if !palette.isEmpty { bytes += chunk("PLTE", palette) }
        bytes += chunk("IDAT", Array(packed[0..<Int(size)]))
        bytes += chunk("IEND", [])
        return Data(bytes)
    }

    /// A 512 x 384 picture of colour-map positions `levels` (64 x 128, each repeated over a
    /// 6 x 4 block), in viridis RGB or as another PNG form.
    static func picture(_ levels: [UInt8], form: String) -> Data {
        let viridis = ColourMap.viridisTable
        let rows = (0..<384).map { r -> [UInt8] in
            (0..<512).flatMap { c -> [UInt8] in
                let k = levels[(r / 6) * 128 + c / 4]
                let colour = viridis[Int(k)]
                switch form {
                case "rgb": return [UInt8(colour >> 16), UInt8(colour >> 8 & 0xFF), UInt8(colour & 0xFF)]
                case "palette": return [k]
                case "grey16": return [k, k]
                default:  // rgba16: each 8-bit value v as v x 257
                    let (r, g, b) = (UInt8(colour >> 16), UInt8(colour >> 8 & 0xFF), UInt8(colour & 0xFF))
                    return [r, r, g, g, b, b, 0xFF, 0xFF]
                }
            }
        }
        switch form {
        case "rgb": return png(width: 512, height: 384, depth: 8, colour: 2, rows: rows, filter: 1)
        case "palette": return png(width: 512, height: 384, depth: 8, colour: 3, rows: rows, palette: viridis.flatMap { [UInt8($0 >> 16), UInt8($0 >> 8 & 0xFF), UInt8($0 & 0xFF)] })
        case "grey16": return png(width: 512, height: 384, depth: 16, colour: 0, rows: rows)
        default: return png(width: 512, height: 384, depth: 16, colour: 6, rows: rows)
        }
    }

    /// Positions of a power image as ibmseti's pictures show it: log power scaled from the
    /// lowest to the highest value over `pictureDecades`, 256 colours.
    private func levels(ofPower power: [Double]) -> [UInt8] {
        let logs = power.map { log10($0) }
        let low = logs.min()!
        return logs.map { UInt8(max(0, min(255, (($0 - low) / DataFolder.pictureDecades * 255).rounded()))) }
    }

    /// Pictures of our own .dat path's power, in every PNG form, read back to the .dat
    /// path's encoding within the colour map's resolution.
    func testPicturesRoundTripToTheDatPathsEncoding() throws {
        var simulator = ML4SETISimulator(seed: 21)
        simulator.snr = 0.3...0.3
        let fft = RowPowerSpectra(rows: ML4SETIFile.rows, length: ML4SETIFile.columns)
        for (i, kind) in [SignalClass.narrowband, .squiggle, .noise].enumerated() {
            let file = simulator.file(kind, index: i).file
            let blocks = SpectrogramEncoding.averageBlocks(file.power(using: fft), height: 384, width: 512, rowFactor: 6, columnFactor: 4)
            // The 64 x 128 power spanning the picture's decades, so positions are exact.
            let low = blocks.map(log10).min()!, high = blocks.map(log10).max()!
            let power = blocks.map { pow(10, (log10($0) - low) / (high - low) * DataFolder.pictureDecades) }
            var expected = [Float](repeating: 0, count: 8192)
            SpectrogramEncoding.encode(power, into: &expected)
            let positions = levels(ofPower: power)
            for form in ["rgb", "palette", "grey16", "rgba16"] {
                let url = dir.appendingPathComponent("\(kind)-\(form).png")
                try Self.picture(positions, form: form).write(to: url)
                var read = [Float](repeating: 0, count: 8192)
                try DataFolder.pictureSpectrogram(url, into: &read)
                let worst = zip(read, expected).map { abs($0 - $1) * 255 }.max()!
                // One colour is pictureDecades / 255 decades of power: that many levels of
                // the encoding's span (median to strongest over 0.325 of the levels). Half a
                // colour can move the pixel, the median and the strongest pixel each, and the
                // final rounding one level.
                let logs = power.map(log10).sorted(), median = logs[logs.count / 2]
                let span = (max(logs.last!, median + 0.35) - median) / 0.325
                let resolution = DataFolder.pictureDecades / 255 / span * 255
                XCTAssertLessThanOrEqual(Double(worst), 3 * resolution + 1.01, "\(kind) as \(form): \(worst) levels of 255 (one colour: \(resolution))")
            }
        }
    }

    func testClassFoldersLoadInBothLayoutsAndNameTheirProblems() throws {
        let flat = dir.appendingPathComponent("flat")
        let noise = [UInt8](repeating: 128, count: 8192)
        var line = noise
        for r in 0..<64 { line[r * 128 + 40] = 255 }
        for (name, levels) in [("noise", noise), ("NarrowBand", line)] {
            let folder = flat.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<5 { try Self.picture(levels, form: "palette").write(to: folder.appendingPathComponent("\(i).png")) }
        }
        let train = try DataFolder.load(.train, from: flat), validation = try DataFolder.load(.validation, from: flat)
        XCTAssertEqual(train.count, 8)
        XCTAssertEqual(validation.count, 2, "every fifth file of a class")
        XCTAssertEqual(train.classNames, SignalClass.classic.map(\.rawValue))
        XCTAssertEqual(Set(train.labels), [1, 2])
        let narrowband = train.labels.firstIndex(of: 1)!
        let row = train.images[(narrowband * 8192)..<(narrowband * 8192 + 128)]
        XCTAssertEqual(row.firstIndex(of: row.min()!)! - narrowband * 8192, 40, "the strongest column is where the line was")

        // Kaggle's layout, with a seven-class folder.
        let kaggle = dir.appendingPathComponent("primary_small")
        for (split, name) in [("train", "brightpixel"), ("valid", "noise")] {
            let folder = kaggle.appendingPathComponent("\(split)/\(name)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Self.picture(noise, form: "rgb").write(to: folder.appendingPathComponent("a.png"))
        }
        XCTAssertEqual(try DataFolder.load(.train, from: kaggle).classNames.count, 7)
        XCTAssertEqual(try DataFolder.load(.validation, from: kaggle).labels, [2])

        func refused(_ mutate: (URL) throws -> Void, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let folder = dir.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("noise"), withIntermediateDirectories: true)
            for i in 0..<5 { try Self.picture(noise, form: "grey16").write(to: folder.appendingPathComponent("noise/\(i).png")) }
            try mutate(folder)
            XCTAssertThrowsError(try DataFolder.load(.train, from: folder), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
                XCTAssertFalse("\($0)".contains("\n"), file: file, line: line)
            }
        }
        let good = Self.picture(noise, form: "rgb")
        try refused({ try FileManager.default.createDirectory(at: $0.appendingPathComponent("whale"), withIntermediateDirectories: true) }, "'whale' is none of")
        try refused({ try FileManager.default.createDirectory(at: $0.appendingPathComponent("squiggle"), withIntermediateDirectories: true) }, "empty class folder")
        try refused({ try Data("x".utf8).write(to: $0.appendingPathComponent("noise/notes.txt")) }, "notes.txt: not a .png file")
        try refused({ try good.prefix(good.count / 2).write(to: $0.appendingPathComponent("noise/9.png")) }, "9.png: not a readable PNG")
        try refused({ try Data("not a png".utf8).write(to: $0.appendingPathComponent("noise/8.png")) }, "8.png: not a readable PNG: no PNG signature")
        try refused({ try Self.png(width: 100, height: 50, depth: 8, colour: 0, rows: Array(repeating: Array(repeating: 9, count: 100), count: 50)).write(to: $0.appendingPathComponent("noise/7.png")) },
                    "7.png: 100 x 50 pixels: a picture must be a whole multiple of 128 wide")
        var corrupt = [UInt8](good)
        corrupt[40] ^= 0xFF
        try refused({ try Data(corrupt).write(to: $0.appendingPathComponent("noise/6.png")) }, "6.png: not a readable PNG")
    }

    /// Bytes changed at random never trap the decoder.
    func testDamagedPicturesNeverTrap() {
        let good = [UInt8](Self.png(width: 128, height: 64, depth: 8, colour: 3, rows: Array(repeating: Array(0..<128).map { UInt8($0 % 4) }, count: 64),
                                    palette: [0, 0, 0, 50, 50, 50, 100, 100, 100, 200, 200, 200]))
        XCTAssertNoThrow(try PNGImage(data: Data(good), file: "good.png"))
        var state: UInt64 = 7
        for _ in 0..<2_000 {
            var bytes = good
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes[Int(state >> 33) % bytes.count] = UInt8(truncatingIfNeeded: state >> 13)
            }
            _ = try? PNGImage(data: Data(bytes), file: "damaged.png")
        }
        // A palette index past the palette's end.
        let outOfPalette = Self.png(width: 128, height: 64, depth: 8, colour: 3, rows: Array(repeating: Array(repeating: 9, count: 128), count: 64), palette: [0, 0, 0])
        XCTAssertThrowsError(try PNGImage(data: outOfPalette, file: "p.png")) { XCTAssertTrue("\($0)".contains("palette entry 9 of 1"), "\($0)") }
    }
}
