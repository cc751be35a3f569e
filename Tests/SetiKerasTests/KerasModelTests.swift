import CHDF5
import Foundation
import SetiNet
import XCTest
@testable import SetiKeras

/// The .keras archive's structure, read back without Keras: a ZIP with the three files
/// Keras expects, a Sequential config with seti-dist's layer names, and every weight in
/// the HDF5 file where Keras looks for it. (scripts/check-keras-export.py loads it in real
/// Keras and compares predictions.)
final class KerasModelTests: XCTestCase {
    private let spec = ModelSpec(height: 8, width: 8, channels: 1, layers: [
        .conv2D(filters: 2, kernel: 3), .batchNorm, .relu, .maxPool(size: 2), .dropout(rate: 0.25), .flatten,
        .dense(units: 5), .batchNorm, .relu, .dense(units: 3),
    ])

    /// The stored entries of a ZIP archive, by name.
    private func entries(_ zip: Data) throws -> [String: Data] {
        let bytes = [UInt8](zip)
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        var out: [String: Data] = [:], i = 0
        while i + 30 <= bytes.count, u32(i) == 0x0403_4B50 {
            XCTAssertEqual(u16(i + 8), 0, "stored, not compressed")
            let size = u32(i + 18), nameLength = u16(i + 26), extra = u16(i + 28)
            let name = String(decoding: bytes[(i + 30)..<(i + 30 + nameLength)], as: UTF8.self)
            let start = i + 30 + nameLength + extra
            out[name] = Data(bytes[start..<(start + size)])
            i = start + size
        }
        XCTAssertEqual(u32(i), 0x0201_4B50, "the central directory follows the entries")
        XCTAssertEqual(u32(bytes.count - 22), 0x0605_4B50, "the end record closes the archive")
        return out
    }

    func testTheArchiveHoldsConfigMetadataAndEveryWeightWhereKerasLooks() throws {
        let network = Network(spec: spec, maxBatch: 1, seed: 3)
        for i in network.state.indices { network.state[i] = Float(i) / 7 }
        let files = try entries(try KerasModel.archive(of: network, classNames: ["a", "b", "c"]))
        XCTAssertEqual(Set(files.keys), ["metadata.json", "config.json", "model.weights.h5"])

        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: files["config.json"]!) as? [String: Any])
        XCTAssertEqual(config["class_name"] as? String, "Sequential")
        let layers = try XCTUnwrap((config["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.map { $0["class_name"] as? String }, ["InputLayer", "Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D", "Dropout",
                                                                     "Flatten", "Dense", "BatchNormalization", "ReLU", "Dense"])
        XCTAssertEqual(layers.dropFirst().map { ($0["config"] as? [String: Any])?["name"] as? String }, network.layerNames)
        XCTAssertEqual((layers.last?["config"] as? [String: Any])?["activation"] as? String, "softmax")

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("seti-keras-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try files["model.weights.h5"]!.write(to: url)
        let file = H5Fopen(url.path, chdf5_read_only(), chdf5_default())
        XCTAssertGreaterThanOrEqual(file, 0)
        defer { H5Fclose(file) }
        for name in network.layerNames {
            for (index, tensor) in network.tensors.filter({ $0.name.hasPrefix(name + "/") }).enumerated() {
                let dataset = H5Dopen2(file, "layers/\(name)/vars/\(index)", chdf5_default())
                XCTAssertGreaterThanOrEqual(dataset, 0, "\(tensor.name) missing")
                var values = [Float](repeating: .nan, count: tensor.count)
                XCTAssertGreaterThanOrEqual(values.withUnsafeMutableBytes { H5Dread(dataset, chdf5_native_float(), 0, 0, chdf5_default(), $0.baseAddress) }, 0)
                H5Dclose(dataset)
                let buffer = tensor.trainable ? network.parameters : network.state
                XCTAssertEqual(values, Array(buffer[tensor.offset..<(tensor.offset + tensor.count)]), tensor.name)
            }
        }
    }
}
