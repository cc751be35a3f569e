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
        XCTAssertEqual(seed(0), 0.005)
        XCTAssertEqual(seed(4), 0.005)
        XCTAssertEqual(seed(5), 0.005 * 0.96, accuracy: 1e-15)
        XCTAssertEqual(seed(12), 0.005 * 0.96 * 0.96, accuracy: 1e-15)
        // "By step 1,200 it has decayed the rate about 18,000-fold": 0.96^240.
        XCTAssertEqual(seed(0) / seed(1_200), 17_960, accuracy: 30)

        let smooth = LearningRateSchedule(initial: 1, decay: .exponential(decaySteps: 10, rate: 0.5, staircase: false))
        XCTAssertEqual(smooth(5), 0.5.squareRoot(), accuracy: 1e-12)

        let step = LearningRateSchedule(initial: 0.1, decay: .step(every: 3, factor: 0.1))
        XCTAssertEqual([0, 2, 3, 6].map { step($0) }, [0.1, 0.1, 0.010000000000000002, 0.0010000000000000002])

        let cosine = LearningRateSchedule(initial: 1, decay: .cosine(decaySteps: 100, alpha: 0.1))
        XCTAssertEqual(cosine(0), 1)
        XCTAssertEqual(cosine(50), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cosine(100), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cosine(1_000), 0.1, accuracy: 1e-12)

        let warm = LearningRateSchedule(initial: 0.4, decay: .exponential(decaySteps: 1, rate: 0.5, staircase: true), warmupSteps: 4)
        XCTAssertEqual([0, 1, 3, 4, 5].map { warm($0) }, [0.1, 0.2, 0.4, 0.4, 0.2])
        XCTAssertEqual(LearningRateSchedule(initial: 0.3)(10_000), 0.3)
    }
}
