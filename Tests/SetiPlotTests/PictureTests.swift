import XCTest
@testable import SetiPlot

/// Pictures never crash, whatever they are asked to draw, and read as people expect.
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

    func testTextIsFittedToItsWidth() {
        let long = "/a/very/long/path/to/a/data/folder/that/goes/on/and/on/sim7"
        let fitted = RGBImage.fitted(long, width: 120, scale: 2)
        XCTAssertLessThanOrEqual(RGBImage.textWidth(fitted, scale: 2), 120)
        XCTAssertEqual(fitted, "/a/v...im7", "the ends kept, the middle elided")
        XCTAssertEqual(RGBImage.fitted("short", width: 500), "short")
        XCTAssertEqual(RGBImage.fitted("anything", width: 0), "")
    }

    func testDrawingOutsideTheImageIsClipped() {
        var image = RGBImage(width: 10, height: 10)
        image.fill(x: 20, y: 20, width: 5, height: 5, color: .red)
        image.fill(x: -5, y: -5, width: Int.max, height: 3, color: .red)
        image.text(String(repeating: "Straße ", count: 50), x: 5, y: 5, scale: 3)
        image.line(-1_000_000, 5, 1_000_000, 5, color: .blue)
        image.strokeRect(x: 8, y: 8, width: 100, height: 100, color: .gray)
        XCTAssertEqual(image.pixels.count, 300)
    }

    /// As a notebook shows the public data: stored values as grey (signal dark on light);
    /// inverted, strong power bright in viridis.
    func testSpectrogramsAreDrawnAsStoredUnlessInverted() {
        let tile = SpectrogramTile(pixels: ArraySlice([Float](repeating: 0.2, count: 4)), title: "t")
        let plain = renderSpectrogramGrid([tile], columns: 1, height: 2, width: 2, heading: "")
        let inverted = renderSpectrogramGrid([tile], columns: 1, height: 2, width: 2, inverted: true, heading: "")
        let x = 16, y = 44 + 22  // the first tile's top-left pixel (margin, top + caption)
        XCTAssertEqual(plain[x, y], RGB(51, 51, 51))
        XCTAssertEqual(inverted[x, y], Viridis.color(0.8))
    }

    func testEveryPictureSurvivesExtremeInputs() {
        let names = ["squiggle", "narrowband", "noise", "narrowbanddrd", "brightpixel", "squarepulsednarrowband", "squigglesquarepulsednarrowband"]
        XCTAssertGreaterThan(renderConfusionMatrix([[0]], classNames: ["x"], heading: String(repeating: "h", count: 500)).width, 0)
        let seven = renderConfusionMatrix(names.map { _ in [Int](repeating: 1_000_000, count: 7) }, classNames: names, heading: "seven")
        XCTAssertGreaterThan(seven.width, 7 * RGBImage.textWidth(names[6], scale: 1), "columns wide enough for the full names")
        _ = renderConfusionMatrix([], classNames: [], heading: "")
        let pixels = ArraySlice([Float](repeating: 0.5, count: 8 * 16))
        for columns in [0, 1, 50] {
            let tiles = names.map { SpectrogramTile(pixels: pixels, title: $0 + $0, subtitle: "pred: \($0) 100%", highlight: true) }
            _ = renderSpectrogramGrid(tiles, columns: columns, height: 8, width: 16, heading: String(repeating: "/long/path", count: 20))
            _ = renderSpectrogramGrid(tiles, columns: columns, height: 8, width: 16, inverted: true, heading: "")
        }
        _ = renderSpectrogramGrid([], columns: 3, height: 64, width: 128, heading: "none")
        _ = renderSpectrogramGrid([SpectrogramTile(pixels: ArraySlice([Float.nan, .infinity, -1, 2]), title: "")], columns: 1, height: 2, width: 2, heading: "odd values")
        _ = renderLineCharts([("loss", "epoch", [Series(name: "train", points: [(1, .nan), (.infinity, 2), (1, 1)], color: .blue)])], heading: "")
        _ = renderLineCharts([("empty", "epoch", [])], heading: "")
        _ = renderLineCharts([], heading: "nothing")
    }
}
