import XCTest
@testable import SetiNet

/// The seed model end to end: it can learn, and a run is a pure function of its seeds.
final class TrainingStepTests: XCTestCase {
    /// 16 samples of pure background noise with arbitrary labels, 4 per class: nothing to
    /// generalise, so reaching 100% means the model can fit (memorise) what it is shown.
    private func batch16() -> (input: [Float], labels: [Int32]) {
        var values = TestValues(seed: 77)
        return (values.uniform(16 * 64 * 128, in: 0.6...0.75), (0..<16).map { Int32($0 % 4) })
    }

    private func step(_ net: Network, _ adam: Adam, _ input: [Float], _ labels: [Int32], step: Int, lr: Float) -> (Double, Int) {
        net.forward(input, batch: 16, options: ForwardOptions(training: true, dropoutSeed: 5, step: step))
        let result = net.loss(labels: labels, batch: 16, gradientScale: 1 / 16)
        net.backward(batch: 16)
        adam.step(parameters: net.parameters, gradients: UnsafeBufferPointer(net.gradients), lr: lr)
        return result
    }

    func testSeedModelOverfitsSixteenSamples() {
        let (input, labels) = batch16()
        let net = Network(spec: .setiCNN, maxBatch: 16, seed: 1)
        let adam = Adam(parameterCount: net.parameters.count)
        var firstLoss = 0.0
        var reachedAt: Int?
        // Training accuracy as Keras's fit() reports it: from the training forward pass
        // itself, dropout included.
        for s in 0..<60 {
            let (loss, correct) = step(net, adam, input, labels, step: s, lr: 1e-3)
            if s == 0 { firstLoss = loss / 16 }
            if correct == 16 { reachedAt = s; break }
        }
        XCTAssertGreaterThan(firstLoss, 1.0, "should start near ln 4")
        XCTAssertNotNil(reachedAt, "did not reach 100% training accuracy within 60 steps")
    }

    func testSameSeedsGiveABitIdenticalRun() {
        let (input, labels) = batch16()
        func run() -> [Float] {
            let net = Network(spec: .setiCNN, maxBatch: 16, seed: 9)
            let adam = Adam(parameterCount: net.parameters.count)
            for s in 0..<2 { _ = step(net, adam, input, labels, step: s, lr: 1e-3) }
            return Array(net.parameters) + Array(net.state)
        }
        XCTAssertEqual(run(), run())
    }
}
