import Foundation
import XCTest
@testable import SetiNet

final class OptimizerTests: XCTestCase {
    /// Two Adam steps against the closed form with Keras's defaults, worked in Double.
    /// Adam, and AdamW as Keras 3 applies its weight decay (p -= lr * wd * p, then Adam).
    func testAdamMatchesItsClosedForm() {
        for weightDecay in [0.0, 0.05] {
            let adam = Adam(parameterCount: 3, weightDecay: Float(weightDecay))
            var p: [Float] = [1, -2, 0.5]
            let grads: [[Float]] = [[0.1, -3, 0], [0.2, 1, -1e-3]]
            var m = [0.0, 0, 0], v = [0.0, 0, 0], want = p.map(Double.init)
            for (t, g) in grads.enumerated() {
                p.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { adam.step(parameters: pb, gradients: $0, lr: 0.01) } }
                let step = Double(t + 1)
                let alpha = 0.01 * (1 - pow(0.999, step)).squareRoot() / (1 - pow(0.9, step))
                for i in 0..<3 {
                    want[i] -= 0.01 * weightDecay * want[i]
                    m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                    v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                    want[i] -= alpha * m[i] / (v[i].squareRoot() + 1e-7)
                }
            }
            for i in 0..<3 { XCTAssertEqual(Double(p[i]), want[i], accuracy: 1e-6, "weight decay \(weightDecay)") }
            XCTAssertEqual(adam.iterations, 2)
        }
        // With a zero gradient, decay alone shrinks the weights by lr * wd per step.
        let decaying = Adam(parameterCount: 1, weightDecay: 0.1)
        var w: [Float] = [2]
        w.withUnsafeMutableBufferPointer { pb in [Float(0)].withUnsafeBufferPointer { decaying.step(parameters: pb, gradients: $0, lr: 0.5) } }
        XCTAssertEqual(w[0], 2 * 0.95, accuracy: 1e-6)
    }

    /// Ranks that split the update (each its own ranges) must produce, together, exactly
    /// the whole update; elements outside the ranges stay untouched. Gradients made range by
    /// range by `prepare`, just before each range's update, elsewhere than the gradient
    /// buffer (here all NaN), give the same update.
    func testUpdatingDisjointRangesEqualsOneWholeUpdate() {
        let n = 1_000
        let grads = (0..<n).map { Float(($0 * 37) % 101) / 50 - 1 }
        for makeOptimizer in [{ Adam(parameterCount: n) as Optimizer }, { SGD(parameterCount: n) as Optimizer }] {
            let whole = makeOptimizer(), first = makeOptimizer(), second = makeOptimizer(), prepared = makeOptimizer()
            var a = (0..<n).map { Float($0) / 100 }, b = a, c = a, d = a
            let split = [[0..<17, 500..<733], [17..<500, 733..<n]]
            let unused = [Float](repeating: .nan, count: n), made = UnsafeMutableBufferPointer<Float>.allocate(capacity: 700)
            defer { made.deallocate() }
            var prepareCalls: [Range<Int>] = []
            for _ in 0..<3 {
                grads.withUnsafeBufferPointer { g in
                    a.withUnsafeMutableBufferPointer { whole.step(parameters: $0, gradients: g, lr: 0.01) }
                    b.withUnsafeMutableBufferPointer { first.step(parameters: $0, gradients: g, lr: 0.01, ranges: split[0], prepare: nil) }
                    c.withUnsafeMutableBufferPointer { second.step(parameters: $0, gradients: g, lr: 0.01, ranges: split[1], prepare: nil) }
                }
                unused.withUnsafeBufferPointer { nan in
                    d.withUnsafeMutableBufferPointer {
                        prepared.step(parameters: $0, gradients: nan, lr: 0.01, ranges: [0..<300, 300..<n]) { range in
                            prepareCalls.append(range)
                            made.update(repeating: .nan)
                            for i in range { made[i - range.lowerBound] = grads[i] }
                            return UnsafePointer(made.baseAddress!)
                        }
                    }
                }
            }
            let merged = (0..<n).map { i in split[0].contains { $0.contains(i) } ? b[i] : c[i] }
            XCTAssertEqual(merged, a, "\(type(of: whole))")
            XCTAssertEqual(b[100], Float(100) / 100, "\(type(of: whole)): an element outside the ranges changed")
            XCTAssertEqual(d, a, "\(type(of: whole)): gradients made by prepare")
            XCTAssertEqual(prepareCalls, Array(repeating: [0..<300, 300..<n], count: 3).flatMap { $0 }, "\(type(of: whole))")
        }
    }

    func testSGDMomentumMatchesKeras() {
        let sgd = SGD(parameterCount: 1, momentum: 0.9)
        var p: [Float] = [1]
        for _ in 0..<2 {
            p.withUnsafeMutableBufferPointer { pb in [Float(0.5)].withUnsafeBufferPointer { sgd.step(parameters: pb, gradients: $0, lr: 0.1) } }
        }
        // v1 = -0.05, p1 = 0.95; v2 = 0.9 * -0.05 - 0.05 = -0.095, p2 = 0.855
        XCTAssertEqual(p[0], 0.855, accuracy: 1e-6)
        // Keras's SGD(weight_decay=0.2): p = 1 - 0.1 * 0.2 * 1 = 0.98, then p += v1 = -0.05.
        let decaying = SGD(parameterCount: 1, momentum: 0.9, weightDecay: 0.2)
        var q: [Float] = [1]
        q.withUnsafeMutableBufferPointer { pb in [Float(0.5)].withUnsafeBufferPointer { decaying.step(parameters: pb, gradients: $0, lr: 0.1) } }
        XCTAssertEqual(q[0], 0.93, accuracy: 1e-6)
    }

    func testLearningRateScheduleTable() {
        let seed = LearningRateSchedule.kerasSeed
        XCTAssertEqual(seed(0, runSteps: 2_000), 0.005)
        XCTAssertEqual(seed(4, runSteps: 2_000), 0.005)
        XCTAssertEqual(seed(5, runSteps: 2_000), 0.005 * 0.96, accuracy: 1e-15)
        XCTAssertEqual(seed(12, runSteps: 2_000), 0.005 * 0.96 * 0.96, accuracy: 1e-15)
        // "By step 1,200 it has decayed the rate about 18,000-fold": 0.96^240.
        XCTAssertEqual(seed(0, runSteps: 2_000) / seed(1_200, runSteps: 2_000), 17_960, accuracy: 30)

        let smooth = LearningRateSchedule(initial: 1, decay: .exponential(decaySteps: 10, rate: 0.5, staircase: false))
        XCTAssertEqual(smooth(5, runSteps: 2_000), 0.5.squareRoot(), accuracy: 1e-12)

        let step = LearningRateSchedule(initial: 0.1, decay: .step(every: 3, factor: 0.1))
        XCTAssertEqual([0, 2, 3, 6].map { step($0, runSteps: 2_000) }, [0.1, 0.1, 0.010000000000000002, 0.0010000000000000002])

        let cosine = LearningRateSchedule(initial: 1, decay: .cosine(decaySteps: 100, alpha: 0.1))
        XCTAssertEqual(cosine(0, runSteps: 2_000), 1)
        XCTAssertEqual(cosine(50, runSteps: 2_000), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cosine(100, runSteps: 2_000), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cosine(1_000, runSteps: 2_000), 0.1, accuracy: 1e-12)

        let warm = LearningRateSchedule(initial: 0.4, decay: .exponential(decaySteps: 1, rate: 0.5, staircase: true), warmupSteps: 4)
        XCTAssertEqual([0, 1, 3, 4, 5].map { warm($0, runSteps: 2_000) }, [0.1, 0.2, 0.4, 0.4, 0.2])
        XCTAssertEqual(LearningRateSchedule(initial: 0.3)(10_000, runSteps: 20_000), 0.3)
    }

    /// A cosine decay without a length spans the run after the warm-up (PyTorch's T_max):
    /// the issue-27 defect was a default of 5 steps, so most of a run trained at rate 0.
    func testCosineWithoutALengthSpansTheWholeRun() {
        let cosine = LearningRateSchedule(initial: 1, decay: .cosine(decaySteps: nil, alpha: 0), warmupSteps: 10)
        XCTAssertEqual(cosine(9, runSteps: 610), 1)
        XCTAssertEqual(cosine(10, runSteps: 610), 1)
        XCTAssertEqual(cosine(310, runSteps: 610), 0.5, accuracy: 1e-12)
        XCTAssertGreaterThan(cosine(609, runSteps: 610), 0)
        XCTAssertNil(cosine.firstZeroStep(runSteps: 610).flatMap { $0 < 610 ? $0 : nil })
        let short = LearningRateSchedule(initial: 1, decay: .cosine(decaySteps: 5, alpha: 0))
        XCTAssertEqual(short.firstZeroStep(runSteps: 600), 5)
        XCTAssertEqual(short(5, runSteps: 600), 0)
        XCTAssertNil(LearningRateSchedule(initial: 1, decay: .cosine(decaySteps: 5, alpha: 0.1)).firstZeroStep(runSteps: 600))
    }

    /// Changing only the shape keeps the settings of the decay in force that mean the same,
    /// and takes the standard recipe's otherwise; a cosine spans the run.
    func testReshapingADecayKeepsWhatItCan() throws {
        typealias Decay = LearningRateSchedule.Decay
        let standard = Decay.exponential(decaySteps: Decay.standardSteps, rate: Decay.standardRate, staircase: true)
        XCTAssertEqual(try standard.reshaped(to: .exponential, steps: nil, rate: nil, staircase: nil), standard)
        XCTAssertEqual(try standard.reshaped(to: .step, steps: nil, rate: nil, staircase: nil), .step(every: Decay.standardSteps, factor: 0.96))
        XCTAssertEqual(try standard.reshaped(to: .cosine, steps: nil, rate: nil, staircase: nil), .cosine(decaySteps: nil, alpha: 0))
        XCTAssertEqual(try standard.reshaped(to: nil, steps: 75, rate: nil, staircase: nil), .exponential(decaySteps: 75, rate: 0.96, staircase: true))
        let seed = Decay.exponential(decaySteps: 5, rate: 0.96, staircase: true)
        XCTAssertEqual(try seed.reshaped(to: .exponential, steps: nil, rate: 0.9, staircase: false), .exponential(decaySteps: 5, rate: 0.9, staircase: false))
        let cosine = Decay.cosine(decaySteps: 600, alpha: 0.1)
        XCTAssertEqual(try cosine.reshaped(to: nil, steps: nil, rate: 0.2, staircase: nil), .cosine(decaySteps: 600, alpha: 0.2))
        XCTAssertEqual(try cosine.reshaped(to: .exponential, steps: nil, rate: nil, staircase: nil), standard)
        XCTAssertEqual(try Decay.constant.reshaped(to: .cosine, steps: 100, rate: nil, staircase: nil), .cosine(decaySteps: 100, alpha: 0))
        XCTAssertThrowsError(try standard.reshaped(to: .constant, steps: nil, rate: 0.5, staircase: nil)) {
            XCTAssertTrue("\($0)".contains("decay-rate need a decaying schedule"), "\($0)")
        }
    }
}
