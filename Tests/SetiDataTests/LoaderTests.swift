import Foundation
import XCTest
@testable import SetiData
import SetiTestSupport

/// The public layout's loaders: every kind of bad input gets one line naming the file
/// (and line, column), and CSV <-> .npy round trips are exact.
final class LoaderTests: ScratchFolderTestCase {
    override var scratchName: String { "data" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("train"), withIntermediateDirectories: true)
    }

    /// Writes train/images.csv with `rows` (each a full row text) and train/labels.csv.
    private func write(images: String, labels: String) throws {
        try images.write(to: dir.appendingPathComponent("train/images.csv"), atomically: true, encoding: .utf8)
        try labels.write(to: dir.appendingPathComponent("train/labels.csv"), atomically: true, encoding: .utf8)
    }

    private func row(_ value: String = "0.5", count: Int = 8192) -> String { Array(repeating: value, count: count).joined(separator: ",") }

    private func assertLoadFails(_ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DataFolder.load(.train, from: dir), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(expected), "got: \(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), "more than one line: \(text)", file: file, line: line)
        }
    }

    func testReadsTheLayoutAndOneHotLabels() throws {
        try write(images: row("0.25") + "\n" + row("1e-1") + "\r\n", labels: "0.0,0.0,1.0,0.0\n1.0,0.0,0.0,0.0\n")
        let set = try DataFolder.load(.train, from: dir)
        XCTAssertEqual(set.count, 2)
        XCTAssertEqual(set.labels, [2, 0])
        XCTAssertEqual(set.classNames, ["squiggle", "narrowband", "noise", "narrowbanddrd"])
        XCTAssertEqual(set.images[0], 0.25)
        XCTAssertEqual(set.images[8192], 0.1)
    }

    func testFlatLayoutForValidation() throws {
        try (row() + "\n").write(to: dir.appendingPathComponent("images_valid.csv"), atomically: true, encoding: .utf8)
        try "0.0,1.0,0.0,0.0\n".write(to: dir.appendingPathComponent("labels_valid.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try DataFolder.load(.validation, from: dir).labels, [1])
    }

    func testMissingFolderAndFiles() {
        XCTAssertThrowsError(try DataFolder.load(.train, from: dir.appendingPathComponent("nope"))) {
            XCTAssertTrue("\($0)".hasSuffix("nope: no such folder"), "\($0)")
        }
        assertLoadFails("no train data: looked for train/images.csv, images.csv")
    }

    func testRaggedRowNamesFileLineAndCount() throws {
        try write(images: row() + "\n" + row(count: 8191) + "\n", labels: "1.0,0.0,0.0,0.0\n1.0,0.0,0.0,0.0\n")
        assertLoadFails("train/images.csv:2: expected 8192 values, found 8191")
    }

    func testNonNumericFieldNamesLineAndColumn() throws {
        var fields = Array(repeating: "0.5", count: 8192)
        fields[6] = "abc"
        try write(images: fields.joined(separator: ",") + "\n", labels: "1.0,0.0,0.0,0.0\n")
        assertLoadFails("train/images.csv:1:7: 'abc' is not a number")
    }

    /// Issue 27.8: a header row is named as such, not as a number that is not one.
    func testAHeaderRowIsNamedAsSuch() throws {
        let header = (0..<8192).map { "pixel\($0)" }.joined(separator: ",")
        try write(images: header + "\n" + row() + "\n", labels: "1.0,0.0,0.0,0.0\n")
        assertLoadFails("train/images.csv:1: a header row ('pixel0', ...); the public layout's CSV files have none: remove the first line")
    }

    func testNaNAndInfinityAreRejected() throws {
        var fields = Array(repeating: "0.5", count: 8192)
        fields[0] = "nan"
        try write(images: fields.joined(separator: ",") + "\n", labels: "1.0,0.0,0.0,0.0\n")
        assertLoadFails("train/images.csv:1:1: value nan is not finite")
        fields[0] = "-inf"
        try write(images: fields.joined(separator: ",") + "\n", labels: "1.0,0.0,0.0,0.0\n")
        assertLoadFails("value -inf is not finite")
    }

    /// Levels of 0...255 or raw power are refused by name, in CSV and .npy alike; a rounding
    /// error over 1 is not.
    func testValuesOutsideTheLayoutsRangeAreRefused() throws {
        var fields = Array(repeating: "0.5", count: 8192)
        fields[17] = "255"
        try write(images: row() + "\n" + fields.joined(separator: ",") + "\n", labels: "1.0,0.0,0.0,0.0\n0.0,1.0,0.0,0.0\n")
        assertLoadFails("train/images.csv: sample 1, pixel 17 holds 255.0: the public layout's values are 0...1 (levels k/255)")
        fields[17] = "1.0000001"
        fields[18] = "-0.0"
        try write(images: fields.joined(separator: ",") + "\n", labels: "1.0,0.0,0.0,0.0\n")
        XCTAssertEqual(try DataFolder.load(.train, from: dir).count, 1)

        try FileManager.default.removeItem(at: dir.appendingPathComponent("train/images.csv"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("train/labels.csv"))
        var values = [Float](repeating: 0.5, count: 2 * 8192)
        values[8192 + 5] = -3
        try NPY.write(values, shape: [2, 64, 128], to: dir.appendingPathComponent("train/images.npy"))
        try NPY.write([1, 0, 0, 0, 0, 1, 0, 0] as [Float], shape: [2, 4], to: dir.appendingPathComponent("train/labels.npy"))
        assertLoadFails("train/images.npy: sample 1, pixel 5 holds -3.0")
    }

    func testLabelsMustBeOneHotAndMatchTheImages() throws {
        try write(images: row() + "\n", labels: "1.0,1.0,0.0,0.0\n")
        assertLoadFails("train/labels.csv:1: label row is not one-hot: 1.0,1.0,0.0,0.0")
        try write(images: row() + "\n" + row() + "\n", labels: "1.0,0.0,0.0,0.0\n")
        assertLoadFails("labels.csv: has 1 labels but images.csv has 2 images")
    }

    func testEmptyFile() throws {
        try write(images: "", labels: "")
        assertLoadFails("train/images.csv: the file is empty")
    }

    func testCSVToNpyToCSVRoundTripIsExact() throws {
        var simulator = Simulator(seed: 3)
        simulator.averagedSpectra = 4
        let set = simulator.generate(perClass: 2, split: .train)
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b"), c = dir.appendingPathComponent("c")
        try DataFolder.write(set, as: .train, to: a, formats: [.csv])
        let fromCSV = try DataFolder.load(.train, from: a)
        XCTAssertEqual(fromCSV, set)
        try DataFolder.write(fromCSV, as: .train, to: b, formats: [.npy])
        let fromNpy = try DataFolder.load(.train, from: b)
        XCTAssertEqual(fromNpy, set)
        try DataFolder.write(fromNpy, as: .train, to: c, formats: [.csv])
        XCTAssertEqual(try Data(contentsOf: c.appendingPathComponent("train/images.csv")),
                       try Data(contentsOf: a.appendingPathComponent("train/images.csv")))
    }

    func testNpyHeaderIsWhatNumpyWrites() throws {
        let url = dir.appendingPathComponent("x.npy")
        try NPY.write([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3], to: url)
        let data = try Data(contentsOf: url)
        XCTAssertEqual((data.count - 24) % 64, 0, "header not padded to 64 bytes")
        let header = String(decoding: data[10..<(data.count - 24)], as: UTF8.self)
        XCTAssertTrue(header.hasSuffix(" \n"), header)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        XCTAssertEqual(try NPY.read(url).values, [1, 2, 3, 4, 5, 6])
    }
}
