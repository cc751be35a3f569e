import Foundation
import SetiRandom
import XCTest
@testable import SetiData

/// Random and boundary-value inputs for the data parsers: each must give a valid result
/// or throw a DataError, never trap (a trap would end the test process). Deterministic:
/// the same seed, the same cases, so a failure reproduces.
final class ParserFuzzTests: XCTestCase {
    private var rng = SplitMix64(seed: 20_261_201)

    private func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }

    /// `bytes` with a few random bytes replaced by ones parsers care about.
    private func mutate(_ bytes: [UInt8], interesting: [UInt8]) -> [UInt8] {
        var out = bytes
        guard !out.isEmpty else { return out }
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let i = Int(rng.next() % UInt64(out.count))
            out[i] = rng.next() % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : pick(interesting)
        }
        return out
    }

    private func csv(_ bytes: [UInt8], columns: [Int]? = nil) {
        do {
            let result = try bytes.withUnsafeBufferPointer { try CSV.parse($0, path: "fuzz.csv", columns: columns) }
            XCTAssertEqual(result.values.count, result.rows * result.columns)
            XCTAssertTrue(result.values.allSatisfy(\.isFinite))
        } catch is DataError {} catch { XCTFail("unexpected error type: \(error)") }
    }

    func testCSVParserNeverTraps() {
        let valid = Array("0.5,0.25,1\n1e-3,-2,3.0\r\n0,0,0\n".utf8)
        for end in 0...valid.count { csv(Array(valid.prefix(end))) }
        let interesting = Array("-+.eE,\n\r0123456789naifNI ".utf8) + [0xEF, 0xBB, 0xBF, 0x00, 0xFF]
        for _ in 0..<3000 { csv(mutate(valid, interesting: interesting), columns: pick([nil, [3], [4, 7]])) }
        for field in ["1e999999999999999999", "-1e-999999", "99999999999999999999999999999999999", "-", "+", ".", "e5", "1e", "1e+",
                      "nan", "-inf", "Infinity", "0x10", "1,,2", ",", "\u{FEFF}1,2", "\u{FEFF}", "1.2.3", "3.4028236e38", String(repeating: "9", count: 5000)] {
            csv(Array((field + "\n").utf8))
        }
    }

    func testCSVBlamesAWrongFirstRowOnLineOneAndAcceptsAByteOrderMark() throws {
        XCTAssertThrowsError(try Array("1,2\n1,2,3\n".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "x.csv", columns: [3]) }) {
            XCTAssertEqual("\($0)", "x.csv:1: expected 3 values, found 2")
        }
        let bom = try Array("\u{FEFF}0.5,1\n".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "bom.csv", columns: nil) }
        XCTAssertEqual(bom.values, [0.5, 1])
        // Spaces and tabs around numbers (numpy's savetxt with delimiter ", "), not between two.
        let spaced = try Array(" 0.5, 1 ,\t0.25\t\r\n1 ,2,  3\n".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "spaced.csv", columns: [3]) }
        XCTAssertEqual(spaced.values, [0.5, 1, 0.25, 1, 2, 3])
        XCTAssertEqual(spaced.rows, 2)
        let blankLines = try Array("1,2\n \t\n3,4\n  ".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "blank.csv", columns: nil) }
        XCTAssertEqual(blankLines.values, [1, 2, 3, 4])
        XCTAssertThrowsError(try Array("  \n\t".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "x.csv", columns: nil) }) {
            XCTAssertEqual("\($0)", "x.csv: the file is empty")
        }
        XCTAssertThrowsError(try Array("0.5 1,2\n".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "x.csv", columns: nil) }) {
            XCTAssertEqual("\($0)", "x.csv:1:1: unexpected character '1' after a number")
        }
        XCTAssertThrowsError(try Array("0.5, ,2\n".utf8).withUnsafeBufferPointer { try CSV.parse($0, path: "x.csv", columns: nil) }) {
            XCTAssertEqual("\($0)", "x.csv:1:2: empty field")
        }
    }

    private func npy(_ bytes: [UInt8]) {
        do {
            let array = try NPY.parse(Data(bytes), path: "fuzz.npy")
            XCTAssertEqual(array.values.count, checkedProduct(array.shape))
        } catch is DataError {} catch { XCTFail("unexpected error type: \(error)") }
    }

    /// A .npy file with this header dict text and `body` bytes of data.
    private func npyFile(descr: String = "'<f4'", shape: String, body: Int) -> [UInt8] {
        var header = "{'descr': \(descr), 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (11 + header.utf8.count) % 64) % 64) + "\n"
        let length = header.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + [UInt8](repeating: 0x3F, count: body)
    }

    func testNPYParserNeverTraps() {
        let valid = npyFile(shape: "(2, 3)", body: 24)
        for end in 0...valid.count { npy(Array(valid.prefix(end))) }
        for _ in 0..<2000 { npy(mutate(valid, interesting: Array("()-,0123456789'<>fi48L ".utf8) + [0x00, 0xFF])) }
        let shapes = ["(-1,)", "(99999999999999999999,)", "(4611686018427387904, 4)", "(0, 9223372036854775807, 2)", "()", "(a,)",
                      "(1,1,1,1,1,1)", "(3037000500, 3037000500)", "(2,", "2, 3", "(2.5, 3)", "(0,)", "(0, 64, 128)", "(6,)"]
        for shape in shapes {
            for descr in ["'<f4'", "'<f8'", "'<i8'", "'<i4'", "'|u1'", "'>f4'", "''", "'<f4"] { npy(npyFile(descr: descr, shape: shape, body: 48)) }
        }
        XCTAssertThrowsError(try NPY.parse(Data(npyFile(shape: "(-1,)", body: 8)), path: "neg.npy")) {
            XCTAssertTrue("\($0)".contains("non-negative integer"), "\($0)")
        }
        XCTAssertThrowsError(try NPY.parse(Data(npyFile(shape: "(4611686018427387904, 4)", body: 8)), path: "huge.npy")) {
            XCTAssertTrue("\($0)".contains("needs more values than the file"), "\($0)")
        }
    }

    /// Integer labels that are huge, negative or NaN are refused with the label's index.
    func testHostileIntegerLabelsAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seti-fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let set = Simulator(seed: 1).generate(perClass: 1, split: .train)
        for bad: Float in [1e30, -1, .nan, 7, 2.5, .infinity] {
            try DataFolder.write(set, as: .train, to: dir, formats: [.npy])
            try NPY.write([0, 1, bad, 3], shape: [4], to: dir.appendingPathComponent("train/labels.npy"))
            XCTAssertThrowsError(try DataFolder.load(.train, from: dir)) {
                XCTAssertTrue("\($0)".contains("label 2 is"), "\($0)")
            }
        }
        try NPY.write([Float](), shape: [0, 64, 128], to: dir.appendingPathComponent("train/images.npy"))
        try NPY.write([Float](), shape: [0], to: dir.appendingPathComponent("train/labels.npy"))
        XCTAssertThrowsError(try DataFolder.load(.train, from: dir)) { XCTAssertTrue("\($0)".contains("holds no images"), "\($0)") }
    }
}
