import Foundation
import XCTest
@testable import SetiNet

/// SetiNet against Keras itself (TensorFlow 2.21, Keras 3): reference tensors made by
/// Fixtures/keras_reference.py for a small model with every layer type of the SETI CNN
/// but dropout. Same weights, same batch: inference logits, training loss, every gradient,
/// the moving statistics after a training forward, and the weights after one Adam step.
///
/// Tolerances: both sides compute in Float32 with different summation orders (oneDNN
/// vs. OpenBLAS); values are O(1), so agreement to 1e-4 relative (plus 1e-6 absolute)
/// is what identical maths gives, while any semantic difference (biased vs. unbiased
/// variance, epsilon, momentum, Adam's bias correction) shows up at 1e-3 or more.
final class KerasReferenceTests: XCTestCase {
    static let spec = ModelSpec(
        height: 12, width: 8, channels: 1,
        layers: [
            .conv2D(filters: 4, kernel: 3), .batchNorm, .relu, .maxPool(size: 2),
            .conv2D(filters: 6, kernel: 3), .batchNorm, .relu, .maxPool(size: 2),
            .flatten, .dense(units: 8), .batchNorm, .relu, .dense(units: 3),
        ])

    var reference: Safetensors!
    var net: Network!
    var labels: [Int32] = []
    let batch = 6

    override func setUpWithError() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/keras_reference.safetensors")
        reference = try Safetensors(contentsOf: url)
        net = Network(spec: Self.spec, maxBatch: batch, seed: 0)
        try net.importWeights(weights("initial/"), source: "reference")
        labels = reference.tensors["labels"]!.values.map { Int32($0) }
    }

    private func weights(_ prefix: String) -> [String: Safetensors.Tensor] {
        var out: [String: Safetensors.Tensor] = [:]
        for (name, t) in reference.tensors where name.hasPrefix(prefix) { out[String(name.dropFirst(prefix.count))] = t }
        return out
    }

    private func assertClose(
        _ got: [Float], _ want: [Float], _ what: String, relative: Float = 1e-4, absolute: Float = 1e-6,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let scale = want.map(abs).max() ?? 1
        for (i, (g, w)) in zip(got, want).enumerated() where abs(g - w) > relative * max(abs(w), scale * 1e-2) + absolute {
            XCTFail("\(what)[\(i)]: got \(g), Keras \(w)", file: file, line: line)
            return
        }
    }

    private var input: [Float] { reference.tensors["input"]!.values }

    func testInferenceLogitsMatchKeras() {
        let logits = net.forward(input, batch: batch, options: .inference)
        assertClose(Array(UnsafeBufferPointer(start: logits, count: batch * 3)), reference.tensors["inference/logits"]!.values, "inference logits")
    }

    func testTrainingLossGradientsAndMovingStatisticsMatchKeras() {
        let logits = net.forward(input, batch: batch, options: ForwardOptions(training: true))
        assertClose(Array(UnsafeBufferPointer(start: logits, count: batch * 3)), reference.tensors["train/logits"]!.values, "training logits")
        let (lossSum, _) = net.loss(labels: labels, batch: batch, gradientScale: 1 / Float(batch))
        XCTAssertEqual(Float(lossSum / Double(batch)), reference.tensors["train/loss"]!.values[0], accuracy: 1e-5)
        net.backward(batch: batch)
        for t in net.tensors where t.trainable {
            // Absolute 1e-5: the biases feeding batch norm have a zero gradient, which both
            // sides compute as Float32 noise of order 1e-6.
            assertClose(
                Array(net.gradients[t.offset..<(t.offset + t.count)]), reference.tensors["grad/" + t.name]!.values,
                "gradient of \(t.name)", absolute: 1e-5)
        }
        let after = weights("after_forward/")
        for t in net.tensors where !t.trainable {
            assertClose(Array(net.state[t.offset..<(t.offset + t.count)]), after[t.name]!.values, t.name)
        }
    }

    func testOneAdamStepMatchesKeras() {
        net.forward(input, batch: batch, options: ForwardOptions(training: true))
        _ = net.loss(labels: labels, batch: batch, gradientScale: 1 / Float(batch))
        net.backward(batch: batch)
        let adam = Adam(parameterCount: net.parameters.count)
        adam.step(parameters: net.parameters, gradients: UnsafeBufferPointer(net.gradients), lr: 0.01)
        let after = weights("after_adam/"), before = weights("initial/")
        var compared = 0
        for t in net.tensors where t.trainable {
            // Adam's first step is lr * g / (|g| + 1e-7): scale-free, so where the gradient is
            // Float32 noise (|g| < 1e-4, e.g. biases feeding batch norm) the two sides may
            // step differently; there only the bound |step| <= lr is checked.
            let grad = reference.tensors["grad/" + t.name]!.values
            for i in 0..<t.count {
                let got = net.parameters[t.offset + i], want = after[t.name]!.values[i]
                if abs(grad[i]) >= 1e-4 {
                    XCTAssertEqual(got, want, accuracy: 1e-6 + 1e-5 * abs(want), "\(t.name)[\(i)] after Adam")
                    compared += 1
                } else {
                    XCTAssertLessThanOrEqual(abs(got - before[t.name]!.values[i]), 0.01 + 1e-6, "\(t.name)[\(i)] after Adam")
                }
            }
        }
        XCTAssertGreaterThan(compared, net.parameters.count * 9 / 10)
    }

    func testSafetensorsRoundTrip() throws {
        let file = Safetensors(tensors: net.exportWeights(), metadata: ["epoch": "3"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("roundtrip-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try file.serialized().write(to: url)
        let back = try Safetensors(contentsOf: url)
        XCTAssertEqual(back.tensors, file.tensors)
        XCTAssertEqual(back.metadata, ["epoch": "3"])
        XCTAssertThrowsError(try net.importWeights(["conv2d/kernel": .init(shape: [1], values: [0])], source: "bad.safetensors")) {
            XCTAssertTrue("\($0)".contains("bad.safetensors: tensor conv2d/kernel has shape [1]"), "\($0)")
        }
    }
}
