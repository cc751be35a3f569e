import XCTest
@testable import SetiNet

final class NetworkTests: XCTestCase {
    /// Every layer type, small enough for finite differences over the whole model.
    static let tiny = ModelSpec(
        height: 12, width: 8, channels: 1,
        layers: [
            .conv2D(filters: 4, kernel: 3), .batchNorm, .relu, .maxPool(size: 2), .dropout(rate: 0.25),
            .conv2D(filters: 6, kernel: 3), .batchNorm, .relu, .maxPool(size: 2), .dropout(rate: 0.25),
            .flatten, .dense(units: 8), .batchNorm, .relu, .dropout(rate: 0.4), .dense(units: 3),
        ])

    /// Issue 27.7: the summary's rows are the compiled network's layers, with Keras's
    /// names, output shapes and counts (Keras's own summary of the seed model: 33,616,132
    /// parameters, 2,240 of them the batch norms' moving statistics).
    func testTheSummaryListsKerasNamesShapesAndCounts() {
        let rows = ModelSpec.setiCNN.summary
        XCTAssertEqual(rows.count, ModelSpec.setiCNN.layers.count)
        XCTAssertEqual(rows[0], LayerSummary(name: "conv2d", kind: "Conv2D", outputShape: [64, 128, 32], trainable: 832, nonTrainable: 0, flops: 2 * 64 * 128 * 25 * 32))
        XCTAssertEqual(rows.first { $0.name == "max_pooling2d_1" }?.outputShape, [16, 32, 64])
        XCTAssertEqual(rows.first { $0.name == "batch_normalization_2" }.map { [$0.trainable, $0.nonTrainable] }, [2048, 2048])
        XCTAssertEqual(rows.first { $0.name == "flatten" }?.outputShape, [32768])
        XCTAssertEqual(rows.map(\.trainable).reduce(0, +), 33_613_892)
        XCTAssertEqual(rows.map(\.nonTrainable).reduce(0, +), 2_240)
        let network = Network(spec: .setiCNN, maxBatch: 1, seed: 0)
        XCTAssertEqual(rows.map(\.trainable).reduce(0, +), network.parameters.count)
        XCTAssertEqual(rows.map(\.name), network.layerNames)
        XCTAssertEqual(rows.map(\.flops).reduce(0, +), network.flopsPerSample.forward)
    }

    func testSeedModelHasKerasParameterCountsNamesAndLayouts() {
        let net = Network(spec: .setiCNN, maxBatch: 1, seed: 1)
        let (trainable, nonTrainable) = net.parameterCounts
        XCTAssertEqual(trainable + nonTrainable, 33_616_132)
        XCTAssertEqual(trainable, 33_613_892)
        XCTAssertEqual(
            net.tensors.map(\.name),
            [
                "conv2d/kernel", "conv2d/bias",
                "batch_normalization/gamma", "batch_normalization/beta",
                "batch_normalization/moving_mean", "batch_normalization/moving_variance",
                "conv2d_1/kernel", "conv2d_1/bias",
                "batch_normalization_1/gamma", "batch_normalization_1/beta",
                "batch_normalization_1/moving_mean", "batch_normalization_1/moving_variance",
                "dense/kernel", "dense/bias",
                "batch_normalization_2/gamma", "batch_normalization_2/beta",
                "batch_normalization_2/moving_mean", "batch_normalization_2/moving_variance",
                "dense_1/kernel", "dense_1/bias",
            ])
        XCTAssertEqual(net.tensor("conv2d/kernel")?.shape, [5, 5, 1, 32])  // HWIO
        XCTAssertEqual(net.tensor("conv2d_1/kernel")?.shape, [5, 5, 32, 64])
        XCTAssertEqual(net.tensor("dense/kernel")?.shape, [16 * 32 * 64, 1024])  // (in, out)
        XCTAssertEqual(net.tensor("dense_1/kernel")?.shape, [1024, 4])
        XCTAssertEqual(net.tensor("batch_normalization_2/moving_variance")?.trainable, false)
    }

    func testLayerTimesNameLayersAsKerasAndAddUpPassesWhileAttached() {
        let net = Network(spec: Self.tiny, maxBatch: 2, seed: 1)
        let times = LayerTimes(net)
        XCTAssertEqual(
            times.names,
            [
                "conv2d", "batch_normalization", "re_lu", "max_pooling2d", "dropout",
                "conv2d_1", "batch_normalization_1", "re_lu_1", "max_pooling2d_1", "dropout_1",
                "flatten", "dense", "batch_normalization_2", "re_lu_2", "dropout_2", "dense_1",
            ])
        let input = [Float](repeating: 0.5, count: 2 * net.inputSize), labels: [Int32] = [0, 2]
        func step() {
            net.forward(input, batch: 2, options: ForwardOptions(training: true))
            _ = net.loss(labels: labels, batch: 2, gradientScale: 0.5)
            net.backward(batch: 2)
        }
        step()
        XCTAssertEqual(times.forward.reduce(0, +), 0, "not attached yet")
        net.layerTimes = times
        step()
        XCTAssertTrue(times.forward[0] > 0 && times.backward[0] > 0, "conv2d timed both ways")
        let once = times.forward[0]
        step()
        XCTAssertGreaterThan(times.forward[0], once, "a second pass adds to the first")
        times.reset()
        XCTAssertEqual(times.forward.reduce(0, +) + times.backward.reduce(0, +), 0)
    }

    func testFlopsPerSampleOfTheSeedModel() {
        let net = Network(spec: .setiCNN, maxBatch: 1, seed: 1)
        let conv1 = 2 * 64 * 128 * 25 * 32, conv2 = 2 * 32 * 64 * 800 * 64, dense = 2 * 32768 * 1024, out = 2 * 1024 * 4
        XCTAssertEqual(net.flopsPerSample.forward, conv1 + conv2 + dense + out)
        XCTAssertEqual(net.flopsPerSample.backward, conv1 + 2 * (conv2 + dense + out))
        // ~857 MFLOP per sample, forward plus backward.
        XCTAssertEqual(Double(net.flopsPerSample.forward + net.flopsPerSample.backward) / 1e6, 857, accuracy: 1)
    }

    func testGlorotInitializationIsSeededAndKerasLike() {
        let a = Network(spec: .setiCNN, maxBatch: 1, seed: 7), b = Network(spec: .setiCNN, maxBatch: 1, seed: 7)
        let c = Network(spec: .setiCNN, maxBatch: 1, seed: 8)
        XCTAssertTrue(a.parameters.elementsEqual(b.parameters))
        XCTAssertFalse(a.parameters.elementsEqual(c.parameters))
        let k = a.tensor("dense/kernel")!
        let limit = (6.0 / Double(32768 + 1024)).squareRoot()
        let kernel = a.parameters[k.offset..<(k.offset + k.count)]
        XCTAssertLessThanOrEqual(Double(kernel.map(abs).max()!), limit * (1 + 1e-6))
        let mean = kernel.reduce(0.0) { $0 + Double($1) } / Double(k.count)
        let variance = kernel.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(k.count)
        XCTAssertEqual(mean, 0, accuracy: 1e-5)
        XCTAssertEqual(variance, limit * limit / 3, accuracy: limit * limit / 300)  // uniform(-l, l)
        let gamma = a.tensor("batch_normalization/gamma")!, bias = a.tensor("dense/bias")!
        XCTAssertTrue(a.parameters[gamma.offset..<(gamma.offset + gamma.count)].allSatisfy { $0 == 1 })
        XCTAssertTrue(a.parameters[bias.offset..<(bias.offset + bias.count)].allSatisfy { $0 == 0 })
        let variances = a.tensor("batch_normalization_1/moving_variance")!
        XCTAssertTrue(a.state[variances.offset..<(variances.offset + variances.count)].allSatisfy { $0 == 1 })
    }

    /// The whole model's parameter gradients (training mode: batch statistics, dropout
    /// on, two batch-norm groups) against finite differences of its loss.
    func testWholeModelGradientMatchesFiniteDifferences() {
        // Batch 12 in two groups: batch norm after the dense layer then normalises 6 values
        // per group; with 2 it would be ill-conditioned (x-hat = d / sqrt(d^2 + eps)).
        let batch = 12
        let net = Network(spec: Self.tiny, maxBatch: batch, seed: 3)
        var values = TestValues(seed: 5)
        let input = values.uniform(batch * net.inputSize)
        let labels: [Int32] = [0, 2, 1, 2, 1, 0, 0, 2, 1, 1, 0, 2]
        let options = ForwardOptions(training: true, dropoutSeed: 11, step: 4, firstSample: 8, batchNormGroups: 2)
        func loss() -> Double {
            net.forward(input, batch: batch, options: options)
            return net.loss(labels: labels, batch: batch, gradientScale: 1).lossSum
        }
        _ = loss()
        net.backward(batch: batch)
        // Nudging one weight moves many ReLU and max-pool inputs, and some cross their kink,
        // so each index is judged at three step sizes (see GradientCheck.agreement); 85% of
        // the indices of every tensor must agree. A wrong term or factor anywhere in
        // backward breaks the gradients of that layer and every layer before it.
        for t in net.tensors where t.trainable {
            let indices = GradientCheck.sample(t.count, count: 16).map { $0 + t.offset }
            // Biases followed by batch norm have a zero gradient: batch norm removes any shift.
            let feedsBatchNorm = t.name.hasPrefix("conv2d") && t.name.hasSuffix("/bias") || t.name == "dense/bias"
            if feedsBatchNorm {
                let numerical = GradientCheck.numerical(loss, net.parameters.baseAddress!, indices: indices, eps: 2e-3)
                XCTAssertLessThan(indices.map { abs(net.gradients[$0]) }.max()!, 1e-4, t.name)
                XCTAssertLessThan(numerical.map(abs).max()!, 1e-2, t.name)
                continue
            }
            XCTAssertGreaterThan(indices.map { abs(net.gradients[$0]) }.max()!, 1e-3, "\(t.name): a zero gradient proves nothing")
            let (fraction, worst) = GradientCheck.agreement(
                loss, net.parameters.baseAddress!, analytic: { Double(net.gradients[$0]) }, indices: indices)
            XCTAssertGreaterThanOrEqual(fraction, 0.85, "\(t.name): \(worst)")
        }
    }

    func testGradientsReadyReportsEachLayerOnceLastLayerFirst() {
        let net = Network(spec: Self.tiny, maxBatch: 2, seed: 1)
        let input = [Float](repeating: 0.5, count: 2 * net.inputSize)
        net.forward(input, batch: 2, options: ForwardOptions(training: true))
        _ = net.loss(labels: [0, 1], batch: 2, gradientScale: 0.5)
        var ranges: [Range<Int>] = []
        net.backward(batch: 2) { ranges.append($0) }
        XCTAssertEqual(ranges.first?.upperBound, net.parameters.count)
        XCTAssertEqual(ranges.last?.lowerBound, 0)
        for (later, earlier) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(earlier.upperBound, later.lowerBound) }
    }

    /// A fold offered for a dense layer's kernel takes that gradient and says so; one
    /// offered for any other tensor is left alone, its gradient going to the buffer as
    /// usual; no other gradient changes.
    func testBackwardHandsOnlyDenseKernelGradientsToFolds() {
        let batch = 4
        let net = Network(spec: Self.tiny, maxBatch: batch, seed: 3)
        var values = TestValues(seed: 6)
        let input = values.uniform(batch * net.inputSize)
        func forward() {
            net.forward(input, batch: batch, options: ForwardOptions(training: true, dropoutSeed: 2))
            _ = net.loss(labels: [0, 1, 2, 1], batch: batch, gradientScale: 0.25)
        }
        forward()
        net.backward(batch: batch)
        let plain = Array(net.gradients)

        let dense = net.tensors.first { $0.name.hasPrefix("dense") && $0.name.hasSuffix("/kernel") }!
        let conv = net.tensors.first { $0.name.hasPrefix("conv2d") && $0.name.hasSuffix("/kernel") }!
        // The fold's buffers: M, P and Q^T, kept alive with it.
        func fold(for t: TensorInfo) -> (KernelGradientFold, [Tensor]) {
            let columns = t.shape.last!, m = Tensor(repeating: 0, count: t.count)
            let p = Tensor(repeating: 0, count: t.count / columns), qt = Tensor(repeating: 1, count: columns)
            return (KernelGradientFold(matrix: m.p, projection: p.p, qt: qt.p, qtStride: columns, rank: 1, share: 0), [m, p, qt])
        }
        let (denseFold, denseBuffers) = fold(for: dense), (convFold, convBuffers) = fold(for: conv)
        let denseM = denseBuffers[0], convM = convBuffers[0]
        net.gradients.update(repeating: .nan)
        forward()
        withExtendedLifetime((denseBuffers, convBuffers)) {
            net.backward(batch: batch, folds: [dense.offset: denseFold, conv.offset: convFold])
        }
        XCTAssertTrue(denseFold.applied)
        XCTAssertFalse(convFold.applied)
        XCTAssertEqual(denseM.array, Array(plain[dense.offset..<(dense.offset + dense.count)]), "M = 0 + G")
        XCTAssertEqual(convM.array, [Float](repeating: 0, count: conv.count), "an unapplied fold's matrix is untouched")
        XCTAssertEqual(convBuffers[1].array, [Float](repeating: 0, count: convBuffers[1].count), "and its P")
        for i in plain.indices where !(dense.offset..<(dense.offset + dense.count)).contains(i) {
            XCTAssertEqual(net.gradients[i], plain[i], "gradient \(i)")
        }
    }

    /// Inference uses moving statistics and no dropout, so it is deterministic and does
    /// not depend on the rest of the batch.
    func testInferenceIsPerSample() {
        let net = Network(spec: Self.tiny, maxBatch: 3, seed: 2)
        var values = TestValues(seed: 9)
        let input = values.uniform(3 * net.inputSize)
        let all = Array(UnsafeBufferPointer(start: net.forward(input, batch: 3, options: .inference), count: 9))
        let last = Array(input[(2 * net.inputSize)...])
        let alone = Array(UnsafeBufferPointer(start: net.forward(last, batch: 1, options: .inference), count: 3))
        XCTAssertEqual(Array(all[6...]), alone)
    }
}
