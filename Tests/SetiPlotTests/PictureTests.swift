import Foundation
import SetiData
import XCTest
@testable import SetiPlot

/// Pictures never crash, whatever they are asked to draw, read back as PNGs of the
/// expected size and colours, and never draw text past its room (measured by cairo).
final class PictureTests: XCTestCase {
    func testEpochTicksAreWholeAndNeverRepeat() {
        for epochs in 1...40 {
            let t = ticks(1, Double(epochs), target: 8, integers: true)
            XCTAssertTrue(t.allSatisfy { $0 == $0.rounded() }, "\(epochs): \(t)")
            let labels = t.map { tickLabel($0, step: t.count > 1 ? t[1] - t[0] : 1) }
            XCTAssertEqual(Set(labels).count, labels.count, "\(epochs) epochs: repeated ticks \(labels)")
        }
    }

    func testValueTicksAreRoundSteps() {
        let t = ticks(0.2734, 0.6191)
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(t.first!, 0.3, accuracy: 1e-12)
        XCTAssertEqual(t[1] - t[0], 0.1, accuracy: 1e-12)
        XCTAssertEqual(tickLabel(t[1], step: 0.1), "0.4")
        XCTAssertEqual(tickLabel(-1e-17, step: 0.5), "0.0")
        XCTAssertTrue(ticks(.nan, 1).isEmpty)
        XCTAssertEqual(ticks(2, 2), [2])
    }

    /// Text is measured with the font it is drawn in and shortened in the middle until it fits.
    func testTextIsFittedToItsMeasuredWidth() throws {
        let long = "/a/very/long/path/to/a/data/folder/that/goes/on/and/on/sim7"
        nonisolated(unsafe) var results: [(String, Double, Double)] = []
        _ = try Figure(width: 10, height: 10) { canvas in
            for width in [0.0, 20, 120, 400, 2000] {
                let fitted = canvas.fitted(long, size: 15, bold: true, width: width)
                results.append((fitted, canvas.textWidth(fitted, size: 15, bold: true), width))
            }
        }.data(.png)
        for (fitted, measured, width) in results {
            XCTAssertLessThanOrEqual(measured, width, "'\(fitted)' overflows \(width)")
        }
        XCTAssertEqual(results[4].0, long, "room enough: unchanged")
        XCTAssertTrue(results[2].0.hasPrefix("/a/") && results[2].0.hasSuffix("sim7") && results[2].0.contains("…"), results[2].0)
        XCTAssertEqual(results[0].0, "")
    }

    private func png(_ figure: Figure) throws -> PNGImage {
        let image = try PNGImage(data: try figure.data(.png), file: "picture.png")
        XCTAssertEqual(image.width, figure.width)
        XCTAssertEqual(image.height, figure.height)
        return image
    }

    private func pixel(_ image: PNGImage, _ x: Int, _ y: Int) -> [Int] {
        let at = (y * image.width + x) * 3
        return (0..<3).map { Int((image.rgb[at + $0] * 255).rounded()) }
    }

    /// As a notebook shows the public data: stored values as grey (signal dark on light);
    /// inverted, strong power bright in viridis. The first tile starts at (78, 64).
    func testSpectrogramsAreDrawnAsStoredUnlessInvertedWithAxes() throws {
        let tile = SpectrogramTile(pixels: ArraySlice([Float](repeating: 0.2, count: 64 * 128)), title: "t")
        let plain = try png(renderSpectrogramGrid([tile], columns: 1, height: 64, width: 128, heading: "h"))
        XCTAssertEqual(pixel(plain, 80, 66), [51, 51, 51])
        XCTAssertEqual(pixel(plain, 2, 2), [255, 255, 255], "white background")
        let inverted = try png(renderSpectrogramGrid([tile], columns: 1, height: 64, width: 128, inverted: true, heading: "h"))
        let expected = Viridis.color(0.8)
        XCTAssertEqual(pixel(inverted, 80, 66), [Int(expected.r), Int(expected.g), Int(expected.b)])
        // The axes: tick marks left of and under the tile are drawn (not white).
        let tickColumn = (0..<plain.height).map { pixel(plain, 75, $0) }.filter { $0 != [255, 255, 255] }
        XCTAssertFalse(tickColumn.isEmpty, "y ticks left of the tile")
    }

    /// Issue 27.9: 50 tiles a class wrap into rows of their class instead of a 13,518 px strip.
    func testGridsWrapByClass() throws {
        let pixels = ArraySlice([Float](repeating: 0.5, count: 64 * 128))
        let tiles = (0..<4).flatMap { c in (0..<50).map { _ in SpectrogramTile(pixels: pixels, title: "class \(c)", group: c) } }
        let grid = renderSpectrogramGrid(tiles, columns: 5, height: 64, width: 128, heading: "wrapped")
        XCTAssertLessThan(grid.width, 2000)
        let rowHeight = Double(grid.height - 44 - 24) / 40
        XCTAssertEqual(rowHeight, 20 + 128 + 40, accuracy: 1, "10 rows a class, 4 classes")
        let mixed = renderSpectrogramGrid([SpectrogramTile(pixels: pixels, title: "a", group: 0), SpectrogramTile(pixels: pixels, title: "b", group: 1)],
                                          columns: 5, height: 64, width: 128, heading: "two classes, two rows")
        XCTAssertGreaterThan(mixed.height, 44 + 2 * 188)
    }

    func testChartsDrawSeriesGapsAndMarkers() throws {
        let series = Series(name: "recall", points: [(1, 0.2), (2, .nan), (3, 0.8)], color: .red, intervals: [(0.1, 0.3), (0, 1), (0.7, 0.9)], notes: ["n=3", "", "n=9"])
        let chart = try png(renderLineCharts([ChartPanel(title: "t", xLabel: "x", yLabel: "y", series: [series], integerX: false,
                                                          marker: (x: 2, label: "best"), yRange: 0...1)], heading: "chart"))
        let reds = (0..<chart.height).flatMap { y in (0..<chart.width).map { x in pixel(chart, x, y) } }.filter { $0[0] > 150 && $0[1] < 100 && $0[2] < 100 }
        XCTAssertFalse(reds.isEmpty, "the series is drawn")
        for format in [Figure.Format.svg, .pdf] {
            let data = try renderLineCharts([ChartPanel(title: "t", xLabel: "x", yLabel: "y", series: [series])], heading: "h").data(format)
            let start = String(decoding: data.prefix(5), as: UTF8.self)
            XCTAssertTrue(format == .pdf ? start == "%PDF-" : start.hasPrefix("<?xml"), start)
        }
        XCTAssertEqual(Figure.Format(path: "a/b.SVG"), .svg)
        XCTAssertEqual(Figure.Format(path: "b.pdf"), .pdf)
        XCTAssertEqual(Figure.Format(path: "b.png"), .png)
    }

    func testEveryPictureSurvivesExtremeInputs() throws {
        let names = ["squiggle", "narrowband", "noise", "narrowbanddrd", "brightpixel", "squarepulsednarrowband", "squigglesquarepulsednarrowband"]
        _ = try png(renderConfusionMatrix([[0]], classNames: ["x"], heading: String(repeating: "h", count: 500)))
        _ = try png(renderConfusionMatrix(names.map { _ in [Int](repeating: 1_000_000, count: 7) }, classNames: names, heading: "seven"))
        _ = try png(renderConfusionMatrix([], classNames: [], heading: ""))
        _ = try png(renderConfusionMatrix([[1, 2], [3]], classNames: ["a"], heading: "ragged"))
        let pixels = ArraySlice([Float](repeating: 0.5, count: 8 * 16))
        for columns in [0, 1, 50] {
            let tiles = names.map { SpectrogramTile(pixels: pixels, title: $0 + $0, subtitle: "pred: \($0) 100%", highlight: true) }
            _ = try png(renderSpectrogramGrid(tiles, columns: columns, height: 8, width: 16, heading: String(repeating: "/long/path", count: 20)))
            _ = try png(renderSpectrogramGrid(tiles, columns: columns, height: 8, width: 16, inverted: true, heading: ""))
        }
        _ = try png(renderSpectrogramGrid([], columns: 3, height: 64, width: 128, heading: "none"))
        _ = try png(renderSpectrogramGrid([SpectrogramTile(pixels: ArraySlice([Float.nan, .infinity, -1, 2]), title: "")], columns: 1, height: 2, width: 2, heading: "odd values"))
        _ = try png(renderSpectrogramGrid([SpectrogramTile(pixels: ArraySlice([Float]()), title: "empty",
                                                           axes: SpectrogramAxes(xLabel: "kHz", x: 5...5, yLabel: "s", y: .infinity ... .infinity))],
                                          columns: 1, height: 2, width: 2, heading: "degenerate axes"))
        _ = try png(renderLineCharts([ChartPanel(title: "loss", xLabel: "epoch", yLabel: "", series: [Series(name: "train", points: [(1, .nan), (.infinity, 2), (1, 1)], color: .blue)])], heading: ""))
        _ = try png(renderLineCharts([ChartPanel(title: "empty", xLabel: "epoch", yLabel: "", series: [])], heading: ""))
        _ = try png(renderLineCharts([ChartPanel(title: "huge", xLabel: "", yLabel: "", series: [Series(name: "", points: [(0, 1e300), (1, -1e300)], color: .blue)])], heading: ""))
        _ = try png(renderLineCharts([], heading: "nothing"))
    }
}
