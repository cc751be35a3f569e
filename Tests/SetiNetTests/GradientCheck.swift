import XCTest

/// Central finite differences against analytic gradients.
///
/// Tolerance: values are O(1) Float32; with eps = 1e-2 the truncation error of a central
/// difference is O(eps^2) ~ 1e-4 for these smooth (or piecewise-linear, kept away from
/// kinks) functions, and Float32 rounding of a loss of magnitude L adds ~6e-8 * L / eps.
/// The loss is accumulated in Double, so a relative error (by vector norm) under 1e-2
/// means the analytic gradient is right; a wrong index, sign or factor gives O(1).
enum GradientCheck {
    static let eps: Float = 1e-2
    static let tolerance = 1e-2

    /// Numerical gradient of `loss` with respect to `buffer[indices]`.
    static func numerical(
        _ loss: () -> Double, _ buffer: UnsafeMutablePointer<Float>, indices: [Int], eps: Float = eps
    ) -> [Double] {
        indices.map { i in
            let saved = buffer[i]
            buffer[i] = saved + eps
            let plus = loss()
            buffer[i] = saved - eps
            let minus = loss()
            buffer[i] = saved
            return (plus - minus) / Double(2 * eps)
        }
    }

    /// For functions with kinks (ReLU and max pooling inside a whole model), where some
    /// finite differences straddle a kink: the fraction of `indices` whose analytic value
    /// matches one of these difference quotients within 3% plus an absolute 3e-3 (Float32
    /// rounding): central at steps 8e-3, 2e-3 and 5e-4, or one-sided at 5e-4 (left, right).
    /// A kink near an index spoils the larger steps, rarely all; a kink exactly at the
    /// point leaves the analytic value (a one-sided derivative) matching one side; a wrong
    /// gradient matches none of them.
    static func agreement(
        _ loss: () -> Double, _ buffer: UnsafeMutablePointer<Float>, analytic: (Int) -> Double, indices: [Int]
    ) -> (fraction: Double, worst: String) {
        var estimates = [8e-3, 2e-3, 5e-4].map { numerical(loss, buffer, indices: indices, eps: Float($0)) }
        let h: Float = 5e-4
        estimates += [h, -h].map { step in
            indices.map { i in
                let saved = buffer[i]
                let here = loss()
                buffer[i] = saved + step
                let there = loss()
                buffer[i] = saved
                return (there - here) / Double(step)
            }
        }
        var agreeing = 0, worst = ""
        for (k, index) in indices.enumerated() {
            let a = analytic(index)
            if estimates.contains(where: { abs($0[k] - a) <= 3e-2 * abs(a) + 3e-3 }) {
                agreeing += 1
            } else {
                worst = "index \(index): analytic \(a), numerical \(estimates.map { $0[k] })"
            }
        }
        return (Double(agreeing) / Double(indices.count), worst)
    }

    /// Asserts that analytic and numerical gradients agree by relative norm error. Some
    /// gradients are zero in exact arithmetic (a bias feeding batch norm); `floor` is the
    /// norm below which a gradient counts as zero, so that both are then only required
    /// to be tiny. `nonzero` demands a gradient the check can actually test.
    static func assertClose(
        _ analytic: [Double], _ numerical: [Double], _ what: String, floor: Double = 1e-12, nonzero: Bool = true,
        tolerance: Double = tolerance,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(analytic.count, numerical.count, file: file, line: line)
        var diff = 0.0, a2 = 0.0, n2 = 0.0
        for (a, n) in zip(analytic, numerical) { diff += (a - n) * (a - n); a2 += a * a; n2 += n * n }
        if nonzero {
            XCTAssertGreaterThan(n2.squareRoot(), floor, "\(what): numerical gradient is zero; the check would prove nothing", file: file, line: line)
        }
        let relative = diff.squareRoot() / max(a2.squareRoot(), n2.squareRoot(), floor)
        XCTAssertLessThan(relative, tolerance, "\(what): relative error \(relative)", file: file, line: line)
    }

    /// `count` indices spread over 0..<size (all of them when size is small).
    static func sample(_ size: Int, count: Int = 40) -> [Int] {
        size <= count ? Array(0..<size) : (0..<count).map { $0 * size / count + ($0 * 7) % max(1, size / count) }
    }
}

/// A deterministic generator of test values.
struct TestValues {
    var rng: UInt64

    init(seed: UInt64) { rng = seed }

    mutating func uniform(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(rng >> 40) / Float(1 << 24)
            return range.lowerBound + u * (range.upperBound - range.lowerBound)
        }
    }

    /// Values bounded away from zero (for ReLU's kink).
    mutating func awayFromZero(_ count: Int) -> [Float] {
        uniform(count).map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }
    }
}

/// Sum over i of out[i] * weights[i], in Double: a scalar loss whose gradient with
/// respect to `out` is `weights`.
func weightedSum(_ out: UnsafePointer<Float>, _ weights: [Float]) -> Double {
    var s = 0.0
    for i in weights.indices { s += Double(out[i]) * Double(weights[i]) }
    return s
}

/// A heap tensor for tests: closures that compute a loss read it through its pointer
/// while finite differences nudge its elements, which Swift arrays would not allow.
final class Tensor {
    let p: UnsafeMutablePointer<Float>
    let count: Int

    init(_ values: [Float]) {
        count = values.count
        p = .allocate(capacity: max(1, count))
        p.initialize(from: values, count: count)
    }

    convenience init(repeating value: Float, count: Int) { self.init([Float](repeating: value, count: count)) }

    deinit { p.deallocate() }

    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    subscript(i: Int) -> Float { p[i] }

    /// Asserts that `analytic` is the gradient of `loss` with respect to this tensor.
    func assertGradient(
        _ analytic: Tensor, of loss: () -> Double, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let indices = GradientCheck.sample(count)
        let numerical = GradientCheck.numerical(loss, p, indices: indices)
        GradientCheck.assertClose(indices.map { Double(analytic[$0]) }, numerical, what, file: file, line: line)
    }
}
