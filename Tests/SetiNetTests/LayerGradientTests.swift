import CKernels
import SetiRandom
import XCTest
@testable import SetiNet

/// Every layer's backward against finite differences of its forward, for input and
/// parameter gradients, with loss = sum(out * r) for a fixed random r (so dout = r).
final class LayerGradientTests: XCTestCase {
    var values = TestValues(seed: 42)

    func testConv2DInputKernelAndBiasGradients() {
        for (s, batch) in [
            (ConvShape(height: 5, width: 6, inChannels: 2, outChannels: 3, kernel: 3), 3),
            (ConvShape(height: 4, width: 7, inChannels: 1, outChannels: 2, kernel: 5), 2),
            // Wide enough kernel rows for band lowering: k GEMMs, one per kernel row.
            (ConvShape(height: 4, width: 3, inChannels: 48, outChannels: 3, kernel: 3), 2),
            (ConvShape(height: 3, width: 5, inChannels: 26, outChannels: 2, kernel: 5), 2),
        ] {
            XCTAssertEqual(s.gemms, s.inChannels * s.kernel >= 128 ? s.kernel : 1)
            assertConvGradients(s, batch: batch, "conv") { out, x, kernel, bias, workspace in
                conv2dForward(out, x, kernel, bias, batch: batch, s, workspace: workspace)
            } backward: { dx, dk, db, dout, x, kernel, workspace in
                conv2dBackward(dx, dk, db, dout, x, kernel, batch: batch, s, workspace: workspace)
            }
        }
    }

    /// Winograd's three passes, tiles of 4 x 4 outputs, 5 x 5 and 3 x 3 kernels.
    func testWinogradConvolutionGradients() throws {
        for (s, batch) in [
            (ConvShape(height: 4, width: 8, inChannels: 8, outChannels: 3, kernel: 5), 3),
            (ConvShape(height: 8, width: 4, inChannels: 9, outChannels: 2, kernel: 3), 2),
        ] {
            let conv = try XCTUnwrap(WinogradConvolution.make(s))
            assertConvGradients(s, batch: batch, "Winograd") { out, x, kernel, bias, workspace in
                conv.forward(out, x, kernel, bias, batch: batch, workspace: workspace)
            } backward: { dx, dk, db, dout, x, kernel, workspace in
                columnSums(db, dout, rows: batch * s.pixels, columns: s.outChannels)
                conv.backward(dx, dk, dout, x, batch: batch, workspace: workspace)
            }
        }
    }

    /// One input channel, no input gradient (a first layer): forward and the kernel
    /// gradient run the direct loops in C, on every instruction set this CPU runs, with
    /// remainders of pixels along a row, of channels (vectors and single ones) and of taps.
    func testOneChannelConvolutionGradientsOnEveryInstructionSet() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            for (s, batch) in [
                (ConvShape(height: 5, width: 13, inChannels: 1, outChannels: 51, kernel: 5), 2),
                (ConvShape(height: 4, width: 3, inChannels: 1, outChannels: 7, kernel: 3), 3),
                (ConvShape(height: 3, width: 14, inChannels: 1, outChannels: 16, kernel: 7), 2),
            ] {
                assertConvGradients(s, batch: batch, "one channel, \(path)", inputGradient: false) { out, x, kernel, bias, workspace in
                    conv2dForward(out, x, kernel, bias, batch: batch, s, workspace: workspace)
                } backward: { _, dk, db, dout, x, kernel, workspace in
                    conv2dBackward(nil, dk, db, dout, x, kernel, batch: batch, s, workspace: workspace)
                }
            }
        }
    }

    /// A convolution's input, kernel and bias gradients against finite differences, on one
    /// worker and on two (samples split over workers whose kernel gradients are summed).
    private func assertConvGradients(
        _ s: ConvShape, batch: Int, _ what: String, inputGradient: Bool = true,
        forward: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, ConvWorkspace) -> Void,
        backward: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>,
                   UnsafePointer<Float>, UnsafePointer<Float>, ConvWorkspace) -> Void
    ) {
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        for workers in [1, 2] {
            BLAS.threads = workers
            let x = Tensor(values.uniform(batch * s.inputSize))
            let kernel = Tensor(values.uniform(s.patch * s.outChannels)), bias = Tensor(values.uniform(s.outChannels))
            let r = values.uniform(batch * s.outputSize)
            let workspace = ConvWorkspace([s])
            let out = Tensor(repeating: 0, count: batch * s.outputSize)
            func loss() -> Double {
                forward(out.p, x.p, kernel.p, bias.p, workspace)
                return weightedSum(out.p, r)
            }
            let dx = Tensor(repeating: .nan, count: x.count)
            let dk = Tensor(repeating: .nan, count: kernel.count), db = Tensor(repeating: .nan, count: bias.count)
            _ = loss()
            r.withUnsafeBufferPointer { backward(dx.p, dk.p, db.p, $0.baseAddress!, x.p, kernel.p, workspace) }
            let name = "\(what) \(s.kernel)x\(s.kernel), \(workers) workers"
            if inputGradient { x.assertGradient(dx, of: loss, "\(name) input") }
            kernel.assertGradient(dk, of: loss, "\(name) kernel")
            bias.assertGradient(db, of: loss, "\(name) bias")
        }
    }

    func testDenseGradients() {
        let batch = 3, inputs = 7, units = 5
        let x = Tensor(values.uniform(batch * inputs))
        let kernel = Tensor(values.uniform(inputs * units)), bias = Tensor(values.uniform(units))
        let r = values.uniform(batch * units)
        let out = Tensor(repeating: 0, count: batch * units)
        func loss() -> Double {
            denseForward(out.p, x.p, kernel.p, bias.p, batch: batch, inputs: inputs, outputs: units)
            return weightedSum(out.p, r)
        }
        let dx = Tensor(repeating: .nan, count: x.count), dk = Tensor(repeating: .nan, count: kernel.count)
        let db = Tensor(repeating: .nan, count: units)
        _ = loss()
        denseBackward(dx.p, dk.p, db.p, r, x.p, kernel.p, batch: batch, inputs: inputs, outputs: units)
        x.assertGradient(dx, of: loss, "dense input")
        kernel.assertGradient(dk, of: loss, "dense kernel")
        bias.assertGradient(db, of: loss, "dense bias")
    }

    /// Dense forward splits output columns over workers, backward kernel rows: 2 workers
    /// must give what 1 does, bit for bit (every element summed in the same order).
    func testDenseIsTheSameOnOneAndTwoWorkers() {
        let batch = 5, inputs = 2500, units = 40
        let x = Tensor(values.uniform(batch * inputs)), kernel = Tensor(values.uniform(inputs * units))
        let r = values.uniform(batch * units)
        let threads = BLAS.threads
        defer { BLAS.threads = threads }
        var results: [[Float]] = []
        for workers in [1, 2] {
            BLAS.threads = workers
            let dx = Tensor(repeating: .nan, count: x.count), dk = Tensor(repeating: .nan, count: kernel.count)
            let db = Tensor(repeating: .nan, count: units), out = Tensor(repeating: .nan, count: batch * units)
            denseForward(out.p, x.p, kernel.p, r, batch: batch, inputs: inputs, outputs: units)
            denseBackward(dx.p, dk.p, db.p, r, x.p, kernel.p, batch: batch, inputs: inputs, outputs: units)
            results.append(out.array + dx.array + dk.array + db.array)
        }
        XCTAssertFalse(results[0].contains { $0.isNaN })
        XCTAssertEqual(results[0], results[1])
    }

    /// On every instruction set this CPU runs: finite differences for the batch norm
    /// alone; with the fused ReLU, the same sums as the batch norm's backward of dy masked
    /// where its output was cut (finite differences would straddle the ReLU's kink).
    func testBatchNormGradientsWithOneAndTwoGroupsWithAndWithoutFusedReLU() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            // 19 channels: one 16-wide vector and single channels; 37: two vectors at once,
            // then single channels.
            for c in [19, 37] {
                for groups in [1, 2] { batchNormGradients(channels: c, groups: groups, path) }
            }
        }
    }

    private func batchNormGradients(channels c: Int, groups: Int, _ path: String) {
        let rows = 8
        let x = Tensor(values.uniform(rows * c, in: -2...2))
        let gamma = Tensor(values.uniform(c, in: 0.5...1.5)), beta = Tensor(values.uniform(c))
        let r = values.uniform(rows * c)
        let name = "\(path): batch norm (\(c) channels, \(groups) groups)"
        struct Pass { var out: Tensor, dx: Tensor, dgamma: Tensor, dbeta: Tensor, cache: BatchNormCache }
        func run(relu: Bool, dout: [Float]) -> Pass {
            let movingMean = Tensor(repeating: 0, count: c), movingVariance = Tensor(repeating: 1, count: c)
            var pass = Pass(
                out: Tensor(repeating: .nan, count: rows * c), dx: Tensor(repeating: .nan, count: x.count),
                dgamma: Tensor(repeating: .nan, count: c), dbeta: Tensor(repeating: .nan, count: c), cache: BatchNormCache())
            batchNormForwardTraining(
                pass.out.p, x.p, gamma.p, beta.p, movingMean.p, movingVariance.p, rows: rows, channels: c, groups: groups,
                momentum: 0.99, epsilon: 1e-3, relu: relu, cache: &pass.cache)
            batchNormBackward(
                pass.dx.p, pass.dgamma.p, pass.dbeta.p, dout, x.p, gamma.p, rows: rows, channels: c, groups: groups,
                cache: pass.cache, relu: relu)
            return pass
        }

        let plain = run(relu: false, dout: r)
        func loss() -> Double {
            let out = run(relu: false, dout: r).out
            return withExtendedLifetime(out) { weightedSum(out.p, r) }
        }
        x.assertGradient(plain.dx, of: loss, "\(name): input")
        gamma.assertGradient(plain.dgamma, of: loss, "\(name): gamma")
        beta.assertGradient(plain.dbeta, of: loss, "\(name): beta")

        let fused = run(relu: true, dout: r)
        let kept = plain.out.array.map { $0 > 0 }
        XCTAssertEqual(fused.out.array, plain.out.array.map { max(0, $0) }, "\(name) + ReLU: forward")
        XCTAssertTrue(kept.contains(false) && kept.contains(true), "\(name) + ReLU: some outputs cut, some kept")
        let masked = run(relu: false, dout: zip(r, kept).map { $1 ? $0 : 0 })
        for (a, b, what) in [(fused.dx, masked.dx, "input"), (fused.dgamma, masked.dgamma, "gamma"), (fused.dbeta, masked.dbeta, "beta")] {
            for (i, (u, v)) in zip(a.array, b.array).enumerated() {
                XCTAssertEqual(u, v, accuracy: 1e-6 * max(1, abs(v)), "\(name) + ReLU: \(what) [\(i)]")
            }
        }
    }

    func testBatchNormStatisticsMatchKerasDefinitions() {
        // Two rows, one channel: mean 2, biased variance 1.
        var out = [Float](repeating: 0, count: 2)
        var movingMean: [Float] = [0], movingVariance: [Float] = [1]
        var cache = BatchNormCache()
        batchNormForwardTraining(
            &out, [1, 3], [1], [0], &movingMean, &movingVariance, rows: 2, channels: 1, groups: 1,
            momentum: 0.99, epsilon: 1e-3, cache: &cache)
        XCTAssertEqual(out[0], -1 / (1 + 1e-3 as Float).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(movingMean[0], 0.01 * 2, accuracy: 1e-7)
        XCTAssertEqual(movingVariance[0], 0.99 * 1 + 0.01 * 1, accuracy: 1e-7)
        batchNormForwardInference(&out, [2, 4], [2], [1], movingMean, movingVariance, rows: 2, channels: 1, epsilon: 1e-3)
        XCTAssertEqual(out[1], 2 * (4 - 0.02) / (1 + 1e-3 as Float).squareRoot() + 1, accuracy: 1e-5)
    }

    func testReluGradient() {
        let x = Tensor(values.awayFromZero(50))
        let r = values.uniform(50)
        let out = Tensor(repeating: 0, count: 50)
        func loss() -> Double { reluForward(out.p, x.p, count: 50); return weightedSum(out.p, r) }
        _ = loss()
        let dx = Tensor(repeating: .nan, count: 50)
        reluBackward(dx.p, r, out.p, count: 50)
        x.assertGradient(dx, of: loss, "relu input")
    }

    func testMaxPoolGradient() {
        // 3 channels: scalar lanes only. 19 channels on 5 x 7: a vector and a tail, and a
        // last row and column that fill no window (their gradient is 0).
        for (batch, h, w, c) in [(2, 4, 6, 3), (2, 5, 7, 19)] {
            let p = 2
            // Distinct values 0.05 apart, shuffled, so a 1e-2 nudge never changes a maximum.
            var order = Array(0..<(batch * h * w * c))
            var shuffle = SplitMix64(seed: 3)
            order.shuffle(using: &shuffle)
            let x = Tensor(order.map { Float($0) * 0.05 })
            let outCount = batch * (h / p) * (w / p) * c
            let r = values.uniform(outCount)
            let out = Tensor(repeating: 0, count: outCount)
            let arg = UnsafeMutablePointer<Int32>.allocate(capacity: outCount)
            defer { arg.deallocate() }
            func loss() -> Double {
                maxPoolForward(out.p, arg, x.p, batch: batch, height: h, width: w, channels: c, pool: p)
                return weightedSum(out.p, r)
            }
            _ = loss()
            let dx = Tensor(repeating: .nan, count: x.count)
            maxPoolBackward(dx.p, r, arg, batch: batch, height: h, width: w, channels: c, pool: p)
            x.assertGradient(dx, of: loss, "max pool input, \(h)x\(w)x\(c)")
            // Window (0, 0) of channel 0 covers NHWC offsets 0, c (x + 1), w * c and (w + 1) * c (y + 1).
            XCTAssertEqual(out[0], [x[0], x[c], x[w * c], x[(w + 1) * c]].max())
        }
    }

    /// The batch norm with its ReLU and the max pool after it fused into one layer gives,
    /// to the bit, what the separate layers give: the pooled output in training and in
    /// inference, and dx, dgamma and dbeta from the pooled gradient. On every instruction
    /// set; with channel tails (20 = 16 + 4, 35 = 2 x 16 + 3, 5), rows and columns that
    /// fill no window, groups, windows of 3, and inputs with many ties (values on a grid
    /// of 0.5, and the zeros below the ReLU), where the first maximum must win.
    func testBatchNormWithFusedMaxPoolEqualsTheSeparateLayersToTheBit() {
        defer { for name in ["avx512", "avx2+fma", "baseline"] where seti_choose_instruction_set(name) != 0 { break } }
        var paths = 0
        for path in ["baseline", "avx2+fma", "avx512"] where seti_choose_instruction_set(path) != 0 {
            paths += 1
            for (batch, h, w, c, p, groups) in [(3, 7, 9, 20, 2, 1), (4, 6, 8, 35, 3, 2), (2, 4, 4, 5, 2, 2), (2, 9, 6, 16, 2, 1)] {
                for relu in [true, false] {
                    fusedPoolMatchesSeparateLayers(batch: batch, height: h, width: w, channels: c, pool: p, groups: groups, relu: relu, path)
                }
            }
        }
        XCTAssertGreaterThanOrEqual(paths, 1)
    }

    private func fusedPoolMatchesSeparateLayers(
        batch: Int, height h: Int, width w: Int, channels c: Int, pool p: Int, groups: Int, relu: Bool, _ path: String
    ) {
        let name = "\(path): \(batch)x\(h)x\(w)x\(c), pool \(p), \(groups) groups, relu \(relu)"
        let rows = batch * h * w, pooled = batch * (h / p) * (w / p) * c
        let x = Tensor(values.uniform(rows * c, in: -2...2).map { ($0 * 2).rounded() / 2 })
        let gamma = Tensor(values.uniform(c, in: 0.5...1.5)), beta = Tensor(values.uniform(c, in: -0.5...0.5))
        let dPooled = Tensor(values.uniform(pooled))
        let pool = FusedPool(height: h, width: w, size: p)

        // Separate layers: batch norm (+ ReLU) into y, max pool into out; and back.
        let y = Tensor(repeating: .nan, count: rows * c), out = Tensor(repeating: .nan, count: pooled)
        let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: pooled)
        defer { argmax.deallocate() }
        var cache = BatchNormCache()
        let mean = Tensor(repeating: 0, count: c), variance = Tensor(repeating: 1, count: c)
        batchNormForwardTraining(
            y.p, x.p, gamma.p, beta.p, mean.p, variance.p, rows: rows, channels: c, groups: groups, momentum: 0.9,
            epsilon: 1e-3, relu: relu, cache: &cache)
        maxPoolForward(out.p, argmax, y.p, batch: batch, height: h, width: w, channels: c, pool: p)
        let dy = Tensor(repeating: .nan, count: rows * c), dx = Tensor(repeating: .nan, count: rows * c)
        let dgamma = Tensor(repeating: .nan, count: c), dbeta = Tensor(repeating: .nan, count: c)
        maxPoolBackward(dy.p, dPooled.p, argmax, batch: batch, height: h, width: w, channels: c, pool: p)
        batchNormBackward(dx.p, dgamma.p, dbeta.p, dy.p, x.p, gamma.p, rows: rows, channels: c, groups: groups, cache: cache, relu: relu)

        // Fused.
        let fusedOut = Tensor(repeating: .nan, count: pooled)
        let maxima = UnsafeMutablePointer<UInt8>.allocate(capacity: pooled)
        defer { maxima.deallocate() }
        var fusedCache = BatchNormCache()
        let fusedMean = Tensor(repeating: 0, count: c), fusedVariance = Tensor(repeating: 1, count: c)
        batchNormForwardTraining(
            fusedOut.p, x.p, gamma.p, beta.p, fusedMean.p, fusedVariance.p, rows: rows, channels: c, groups: groups,
            momentum: 0.9, epsilon: 1e-3, relu: relu, pool: pool, maxima: maxima, cache: &fusedCache)
        let fusedDx = Tensor(repeating: .nan, count: rows * c)
        let fusedDgamma = Tensor(repeating: .nan, count: c), fusedDbeta = Tensor(repeating: .nan, count: c)
        batchNormBackward(
            fusedDx.p, fusedDgamma.p, fusedDbeta.p, dPooled.p, x.p, gamma.p, rows: rows, channels: c, groups: groups,
            cache: fusedCache, relu: relu, pool: pool, maxima: maxima)

        /// The first index where the two differ in any bit, nil when they are the same.
        func firstDifference(_ a: [Tensor], _ b: [Tensor]) -> Int? {
            let u = a.flatMap(\.array), v = b.flatMap(\.array)
            return u.count != v.count ? -1 : u.indices.first { u[$0].bitPattern != v[$0].bitPattern }
        }
        XCTAssertNil(firstDifference([fusedOut], [out]), "\(name): pooled output")
        XCTAssertNil(firstDifference([fusedMean, fusedVariance], [mean, variance]), "\(name): moving statistics")
        XCTAssertNil(firstDifference([fusedDx], [dx]), "\(name): input gradient")
        XCTAssertNil(firstDifference([fusedDgamma, fusedDbeta], [dgamma, dbeta]), "\(name): gamma and beta gradients")
        // Ties were there to break: some window holds its maximum more than once.
        var ties = 0
        for image in 0..<batch {
            for wy in 0..<(h / p) {
                for wx in 0..<(w / p) {
                    for channel in 0..<c {
                        let window = (0..<(p * p)).map { k in y[((image * h + wy * p + k / p) * w + wx * p + k % p) * c + channel] }
                        if window.filter({ $0 == window.max() }).count > 1 { ties += 1 }
                    }
                }
            }
        }
        XCTAssertGreaterThan(ties, 0, "\(name): no ties to break")

        // Inference: moving statistics, no maxima kept.
        let inferred = Tensor(repeating: .nan, count: rows * c), inferredOut = Tensor(repeating: .nan, count: pooled)
        batchNormForwardInference(inferred.p, x.p, gamma.p, beta.p, mean.p, variance.p, rows: rows, channels: c, epsilon: 1e-3, relu: relu)
        maxPoolForward(inferredOut.p, argmax, inferred.p, batch: batch, height: h, width: w, channels: c, pool: p)
        let fusedInferred = Tensor(repeating: .nan, count: pooled)
        batchNormForwardInference(
            fusedInferred.p, x.p, gamma.p, beta.p, mean.p, variance.p, rows: rows, channels: c, epsilon: 1e-3, relu: relu, pool: pool)
        XCTAssertNil(firstDifference([fusedInferred], [inferredOut]), "\(name): inference")
    }

    func testDropoutGradientAndStatistics() {
        let batch = 4, features = 5000, rate: Float = 0.25
        let x = Tensor(values.uniform(batch * features))
        let r = values.uniform(batch * features)
        let out = Tensor(repeating: 0, count: x.count), mask = Tensor(repeating: 0, count: x.count)
        func loss() -> Double {
            dropoutForward(out.p, mask.p, x.p, batch: batch, features: features, rate: rate, seed: 9, stream: 1, firstSample: 0)
            return weightedSum(out.p, r)
        }
        _ = loss()
        let dx = Tensor(repeating: .nan, count: x.count)
        dropoutBackward(dx.p, r, mask.p, count: x.count)
        x.assertGradient(dx, of: loss, "dropout input")
        let masks = mask.array
        XCTAssertEqual(Double(masks.filter { $0 == 0 }.count) / Double(masks.count), 0.25, accuracy: 0.01)
        XCTAssertTrue(masks.allSatisfy { $0 == 0 || $0 == 1 / (1 - rate) })
        // Element j of sample s is kept iff the top 23 bits of its 32-bit half of the hash of
        // (s, j / 2), as a fraction, are at least rate: in the vector body and in the tail
        // (5000 = 312 * 16 + 8) alike.
        for sample in 0..<batch {
            for j in [0, 1, 2, 15, 16, 17, 4991, 4992, 4993, 4999] {
                let bits = CounterRandom.bits(seed: 9, stream: 1, index: UInt64(sample) << 32 | UInt64(j / 2))
                let u = j % 2 == 0 ? bits & 0xFFFF_FFFF : bits >> 32
                XCTAssertEqual(masks[sample * features + j] != 0, Double(u >> 9) / Double(1 << 23) >= Double(rate), "sample \(sample) element \(j)")
            }
        }
        // A sample's mask depends on its global index, not on its position in the batch.
        let one = Tensor(repeating: 0, count: features), oneMask = Tensor(repeating: 0, count: features)
        dropoutForward(one.p, oneMask.p, x.p + 2 * features, batch: 1, features: features, rate: rate, seed: 9, stream: 1, firstSample: 2)
        XCTAssertEqual(oneMask.array, Array(masks[(2 * features)..<(3 * features)]))
    }

    func testSoftmaxCrossEntropyGradient() {
        let batch = 3, k = 4
        let logits = Tensor(values.uniform(batch * k, in: -3...3))
        let labels: [Int32] = [0, 3, 2]
        let probs = Tensor(repeating: 0, count: batch * k)
        for smoothing: Float in [0, 0.2] {
            func loss() -> Double { softmaxCrossEntropyForward(probs.p, logits.p, labels, batch: batch, classes: k, smoothing: smoothing).lossSum }
            _ = loss()
            let d = Tensor(repeating: .nan, count: batch * k)
            softmaxCrossEntropyBackward(d.p, probs.p, labels, batch: batch, classes: k, scale: 1, smoothing: smoothing)
            logits.assertGradient(d, of: loss, "softmax cross-entropy logits, label smoothing \(smoothing)")
        }
    }

    /// Keras's CategoricalCrossentropy(label_smoothing: 0.1) on the same logits.
    func testLabelSmoothingMatchesKerasTargets() {
        var probs = [Float](repeating: 0, count: 4)
        // Targets 0.925, 0.025, 0.025, 0.025; log-probabilities about -60, -60, -60, 0.
        XCTAssertEqual(softmaxCrossEntropyForward(&probs, [0, 0, 0, 60], [0], batch: 1, classes: 4, smoothing: 0.1).lossSum, 0.975 * 60, accuracy: 1e-4)
        // Equal logits: log 4 whatever the targets.
        XCTAssertEqual(softmaxCrossEntropyForward(&probs, [2, 2, 2, 2], [1], batch: 1, classes: 4, smoothing: 0.3).lossSum, log(4), accuracy: 1e-6)
        var d = [Float](repeating: 0, count: 4)
        softmaxCrossEntropyBackward(&d, [0.25, 0.25, 0.25, 0.25], [1], batch: 1, classes: 4, scale: 1, smoothing: 0.2)
        // Targets 0.05, 0.85, 0.05, 0.05.
        for (got, want) in zip(d, [Float(0.2), -0.6, 0.2, 0.2]) { XCTAssertEqual(got, want, accuracy: 1e-6) }
    }

    func testSoftmaxCrossEntropyOnExtremeLogitsIsFinite() {
        let logits: [Float] = [1e30, -1e30, 0, 88, -3e38, 3e38, 100, 100]
        var probs = [Float](repeating: 0, count: 8)
        let (lossSum, correct) = softmaxCrossEntropyForward(&probs, logits, [0, 0], batch: 2, classes: 4)
        // Sample 0 is confidently right (loss 0); sample 1 confidently wrong, its loss the
        // logit gap 3e38 - (-3e38), which overflows Float but not the Double sum.
        XCTAssertEqual(lossSum, 6e38, accuracy: 1e33)
        XCTAssertEqual(correct, 1)
        XCTAssertTrue(probs.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        var d = [Float](repeating: 0, count: 8)
        softmaxCrossEntropyBackward(&d, probs, [0, 0], batch: 2, classes: 4, scale: 0.5)
        XCTAssertTrue(d.allSatisfy(\.isFinite))
        XCTAssertEqual(d[0], 0, accuracy: 1e-7)  // confidently right: no gradient
        XCTAssertEqual(d[5], 0.5, accuracy: 1e-7)  // all probability on the wrong class
        XCTAssertEqual(d[4], -0.5, accuracy: 1e-7)
        let (wrong, _) = softmaxCrossEntropyForward(&probs, [0, 0, 0, 60], [0], batch: 1, classes: 4)
        XCTAssertEqual(wrong, 60, accuracy: 1e-4)
    }
}
