@testable import SetiNet
import SetiRandom
@testable import SetiTraining
import SwiftMPI
import XCTest

/// PowerSGD in one process: which tensors it compresses, that a gradient of rank at most r
/// passes exactly, and that error feedback loses nothing over time.
final class PowerSGDTests: XCTestCase {
    var world: Communicator!

    override func setUpWithError() throws { world = try MPI.initialize() }

    /// A 301 x 250 matrix (compressed; neither dimension a multiple of the kernels' 4 rows
    /// and 8 columns, so their tails run too), then a 10-float bias (exact).
    private static let rows = 301, columns = 250, elements = rows * columns
    private let tensors = [
        TensorInfo(name: "dense/kernel", shape: [rows, columns], trainable: true, offset: 0, initializer: .glorotUniform),
        TensorInfo(name: "dense/bias", shape: [10], trainable: true, offset: elements, initializer: .zeros),
    ]
    private let count = elements + 10

    /// Runs one exchange of `gradient`; returns the gradient the optimizer was given. The
    /// optimizer's ranges must cover the buffer in order; while compressing, the matrices'
    /// G comes from `prepare`, range by range (their elements of the buffer are NaN here).
    private func exchange(_ reducer: LowRankReducer, _ gradient: [Float]) throws -> [Float] {
        _ = reducer.gradients.update(fromContentsOf: gradient)
        var applied: [Float] = []
        try reducer.applyUpdate { source in
            XCTAssertEqual(source.ranges.first?.lowerBound, 0)
            XCTAssertEqual(source.ranges.last?.upperBound, self.count)
            XCTAssertTrue(zip(source.ranges, source.ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            applied = Array(reducer.gradients)
            if let prepare = source.prepare {
                for m in reducer.matrices { reducer.gradients[m.range].update(repeating: .nan) }
                for range in source.ranges {
                    let g = prepare(range)
                    for i in range { applied[i] = g[i - range.lowerBound] }
                }
            }
        }
        XCTAssertFalse(applied.contains { $0.isNaN }, "an element the optimizer read was never written")
        return applied
    }

    /// A matrix gradient that is a sum of `rank` random outer products u_k v_k^T, and the bias.
    private func lowRankGradient(rank: Int, seed: UInt64) -> [Float] {
        let (rows, columns) = (Self.rows, Self.columns)
        var rng = SplitMix64(seed: seed)
        let u = (0..<(rank * rows)).map { _ in Float(rng.gaussian()) }
        let v = (0..<(rank * columns)).map { _ in Float(rng.gaussian()) }
        var gradient = [Float](repeating: 0, count: count)
        for i in 0..<rows {
            for j in 0..<columns { gradient[i * columns + j] = (0..<rank).reduce(0) { $0 + u[$1 * rows + i] * v[$1 * columns + j] } }
        }
        for k in 0..<10 { gradient[Self.elements + k] = Float(k) - 4.5 }
        return gradient
    }

    func testTheSETICNNCompressesOnlyTheDenseKernel() {
        let spec = ModelSpec.setiCNN
        let reducer = PowerSGDReducer(world: world, tensors: Network.tensors(of: spec), count: Network.parameterCount(of: spec), rank: 4, seed: 1, overlap: false)
        XCTAssertEqual(reducer.matrices.map(\.name), ["dense/kernel"])
        XCTAssertEqual(reducer.matrices.map { [$0.rows, $0.columns] }, [[32768, 1024]])
        // The factors of a step: 0.5 MB against the kernel's 134 MB.
        XCTAssertEqual(4 * (32768 + 1024) * 4, 540_672)
        XCTAssertEqual(reducer.layout.exact.reduce(0) { $0 + $1.count } + 32768 * 1024, Network.parameterCount(of: spec))
    }

    /// Ranks up to 4 run the kernels' fused passes, larger ones the general loops.
    func testAGradientOfRankAtMostRPassesExactly() throws {
        for (rank, gradientRank) in [(4, 2), (7, 5)] {
            let reducer = PowerSGDReducer(world: world, tensors: tensors, count: count, rank: rank, seed: 3, overlap: false, blockFloats: 1000)
            let gradient = lowRankGradient(rank: gradientRank, seed: 9)
            let applied = try exchange(reducer, gradient)
            let scale = gradient.map(abs).max()!
            for i in gradient.indices { XCTAssertEqual(applied[i], gradient[i], accuracy: 1e-5 * scale, "rank \(rank), element \(i)") }
        }
    }

    /// Alternating (ACP-SGD), a step that makes P projects M onto the last Q's span, a
    /// random one at first: a gradient of rank at most r does not pass whole. The next step
    /// projects onto the span of that P, which holds the gradient and what the step before
    /// left in M: it passes all that is owed, so every two steps apply the gradient twice.
    func testAlternatingPassesAGradientOfRankAtMostRWholeEveryTwoSteps() throws {
        for (rank, gradientRank) in [(2, 2), (4, 3), (7, 5)] {
            let reducer = ACPSGDReducer(world: world, tensors: tensors, count: count, rank: rank, seed: 3, overlap: false, blockFloats: 1000)
            let gradient = lowRankGradient(rank: gradientRank, seed: 8)
            let scale = gradient.map(abs).max()!
            for pair in 0..<3 {
                let first = try exchange(reducer, gradient), second = try exchange(reducer, gradient)
                if pair == 0 {
                    XCTAssertTrue((0..<Self.elements).contains { abs(first[$0] - gradient[$0]) > 1e-2 * scale }, "rank \(rank): a random Q passed it whole")
                }
                for i in gradient.indices {
                    XCTAssertEqual(first[i] + second[i], 2 * gradient[i], accuracy: 1e-4 * scale, "rank \(rank), steps \(2 * pair) and \(2 * pair + 1), element \(i)")
                }
            }
        }
    }

    /// A full-rank gradient is not transmitted whole, but error feedback keeps the rest: the
    /// applied gradients plus the final error sum to the true gradients, to rounding; also
    /// when the factors alternate, whose change of basis before each step must keep what M
    /// owes.
    func testErrorFeedbackLosesNothingOverSteps() throws {
        for rank in [2, 6] {
            for alternating in [false, true] { try checkErrorFeedback(rank: rank, alternating: alternating) }
        }
    }

    private func checkErrorFeedback(rank: Int, alternating: Bool) throws {
        let elements = Self.elements
        let reducer: LowRankReducer = alternating
            ? ACPSGDReducer(world: world, tensors: tensors, count: count, rank: rank, seed: 3, overlap: false, blockFloats: 1000)
            : PowerSGDReducer(world: world, tensors: tensors, count: count, rank: rank, seed: 3, overlap: false, blockFloats: 1000)
        var rng = SplitMix64(seed: 4)
        var trueSum = [Double](repeating: 0, count: count), appliedSum = trueSum
        var firstRelativeError = 0.0
        for step in 0..<6 {
            let gradient = (0..<count).map { _ in Float(rng.gaussian()) }
            let applied = try exchange(reducer, gradient)
            for i in 0..<count { trueSum[i] += Double(gradient[i]); appliedSum[i] += Double(applied[i]) }
            if step == 0 {
                var diff = 0.0, norm = 0.0
                for i in 0..<elements { diff += pow(Double(applied[i] - gradient[i]), 2); norm += pow(Double(gradient[i]), 2) }
                firstRelativeError = (diff / norm).squareRoot()
            }
        }
        XCTAssertGreaterThan(firstRelativeError, 0.5, "a rank-\(rank) view of a random 301 x 250 matrix must lose most of it")
        // The last step's error is settled for a checkpoint.
        try reducer.completeState(of: Adam(parameterCount: count))
        let error = reducer.stateSlots.first { $0.name == "powersgd/error" }!.values
        XCTAssertEqual(error.count, elements)
        for i in 0..<elements {
            XCTAssertEqual(appliedSum[i] + Double(error[i]), trueSum[i], accuracy: 1e-3, "rank \(rank), alternating \(alternating), element \(i)")
        }
        for i in elements..<count { XCTAssertEqual(appliedSum[i], trueSum[i], accuracy: 1e-4, "exact tensor, element \(i)") }
    }

    /// Before --powersgd-start-step, full-rank gradients pass whole; from it on, they are
    /// compressed; a restored reducer counts from the checkpoint's step.
    func testCompressionStartsAtTheStartStep() throws {
        func lossy(_ applied: [Float], _ gradient: [Float]) -> Bool {
            zip(applied, gradient).prefix(Self.elements).contains { abs($0 - $1) > 1e-3 }
        }
        var rng = SplitMix64(seed: 6)
        let reducer = PowerSGDReducer(world: world, tensors: tensors, count: count, rank: 2, startStep: 2, seed: 3, overlap: false, blockFloats: 1000)
        for step in 0..<3 {
            let gradient = (0..<count).map { _ in Float(rng.gaussian()) }
            let applied = try exchange(reducer, gradient)
            XCTAssertEqual(lossy(applied, gradient), step >= 2, "step \(step)")
        }
        let restored = PowerSGDReducer(world: world, tensors: tensors, count: count, rank: 2, startStep: 2, seed: 3, overlap: false, blockFloats: 1000)
        restored.stateRestored(step: 2)
        let gradient = (0..<count).map { _ in Float(rng.gaussian()) }
        XCTAssertTrue(lossy(try exchange(restored, gradient), gradient), "a run resumed at step 2 compresses")
    }

    /// The other factor takes over the change of basis: a b^T stays the same, also when a
    /// column of a lies in the span of the others.
    func testOrthonormalizationCarryingTheOtherFactorKeepsTheirProduct() {
        var rng = SplitMix64(seed: 7)
        let (rows, bRows, columns) = (40, 9, 3)
        var a = (0..<(rows * columns)).map { _ in Float(rng.gaussian()) }
        for k in 0..<rows { a[k * columns + 1] = 3 * a[k * columns] }
        var b = (0..<(bRows * columns)).map { _ in Float(rng.gaussian()) }
        func product(_ a: [Float], _ b: [Float]) -> [Float] {
            (0..<(rows * bRows)).map { e in (0..<columns).reduce(0) { $0 + a[e / bRows * columns + $1] * b[e % bRows * columns + $1] } }
        }
        let before = product(a, b)
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                orthonormalizeColumns(a.baseAddress!, rows: rows, carrying: b.baseAddress!, rows: bRows, columns: columns)
            }
        }
        for (x, y) in zip(product(a, b), before) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y))) }
        for i in 0..<columns {
            for j in 0..<columns {
                let dot = (0..<rows).reduce(Float(0)) { $0 + a[$1 * columns + i] * a[$1 * columns + j] }
                XCTAssertEqual(dot, i == j && i != 1 ? 1 : 0, accuracy: 1e-5, "columns \(i), \(j)")
            }
        }
    }

    func testOrthonormalizationZeroesDependentColumns() {
        // Columns: a, 2a (dependent), b.
        var rng = SplitMix64(seed: 5)
        var m = [Float](repeating: 0, count: 100 * 3)
        for k in 0..<100 {
            let a = Float(rng.gaussian())
            m[k * 3] = a; m[k * 3 + 1] = 2 * a; m[k * 3 + 2] = Float(rng.gaussian())
        }
        m.withUnsafeMutableBufferPointer { orthonormalizeColumns($0.baseAddress!, rows: 100, columns: 3) }
        func dot(_ i: Int, _ j: Int) -> Float { (0..<100).reduce(0) { $0 + m[$1 * 3 + i] * m[$1 * 3 + j] } }
        XCTAssertEqual(dot(0, 0), 1, accuracy: 1e-5)
        XCTAssertEqual(dot(1, 1), 0, accuracy: 1e-10, "a dependent column becomes zero")
        XCTAssertEqual(dot(2, 2), 1, accuracy: 1e-5)
        XCTAssertEqual(dot(0, 2), 0, accuracy: 1e-6)
    }
}
