import Foundation
import SetiRandom
import XCTest
@testable import SetiNet

/// Random and boundary-value safetensors files: parsed or refused with a FormatError,
/// never a trap, and never an allocation larger than the file.
final class SafetensorsFuzzTests: XCTestCase {
    private var rng = SplitMix64(seed: 77)

    private func parse(_ bytes: [UInt8]) {
        do {
            let file = try Safetensors(data: Data(bytes), source: "fuzz.safetensors")
            for t in file.tensors.values { XCTAssertEqual(t.values.count, t.shape.reduce(1, *)) }
        } catch is Safetensors.FormatError {} catch { XCTFail("unexpected error type: \(error)") }
    }

    /// A file whose header is `json` followed by `body` bytes.
    private func file(_ json: String, body: Int) -> [UInt8] {
        let header = Array(json.utf8)
        return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + [UInt8](repeating: 0, count: body)
    }

    func testParserNeverTraps() throws {
        let valid = [UInt8](try Safetensors(tensors: ["a": .init(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])], metadata: ["k": "v"]).serialized())
        for end in 0...valid.count { parse(Array(valid.prefix(end))) }
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = rng.next() % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : Array("[]{}-,:0123456789\"e".utf8)[Int(rng.next() % 19)]
            }
            parse(bytes)
        }
        let shapes = ["[-1]", "[1e300]", "[9223372036854775807]", "[4611686018427387904, 4]", "[0, 9223372036854775807, 9]", "[2.5]", "[\"2\"]", "[]", "null"]
        let offsets = ["[0, 24]", "[-4, 20]", "[0, 9223372036854775807]", "[9223372036854775800, 9223372036854775807]", "[24, 0]", "[0]", "[0, 1e300]"]
        for shape in shapes {
            for range in offsets {
                parse(file("{\"t\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":\(range)}}", body: 24))
            }
        }
        parse(withUnsafeBytes(of: UInt64.max.littleEndian, Array.init) + [1, 2, 3])
        parse(file("{\"__metadata__\": {\"a\": 1}}", body: 0))
        XCTAssertThrowsError(try Safetensors(data: Data(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", body: 4)), source: "neg")) {
            XCTAssertTrue("\($0)".contains("not non-negative integers"), "\($0)")
        }
    }
}
