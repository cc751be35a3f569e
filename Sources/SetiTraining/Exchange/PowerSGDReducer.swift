import SetiNet
import SetiRandom
import SwiftMPI

/// `--compression powersgd`: PowerSGD (Vogels, Karimireddy and Jaggi 2019, the algorithm of
/// PyTorch DDP's `powerSGD_hook`). Each large weight matrix's gradient, viewed as rows x
/// columns (all dimensions but the last x the last), is exchanged as two thin factors:
///
///     M = G + E                 this rank's gradient plus its error feedback
///     P = sum over ranks of M Q     (rows x r), then orthonormalized
///     Q = sum over ranks of M^T P   (columns x r)
///     G = P Q^T                 the gradient every rank applies
///     E = M - G / ranks         what this rank's share of the sum did not transmit
///
/// One power iteration per step, warm-started from the previous step's Q. For the dense
/// layer's 32768 x 1024 kernel at rank 4 that is 0.5 MB per step instead of 134 MB. The
/// other tensors (convolutions, biases, batch norm: 0.2 MB) are summed exactly.
///
/// Since every step is linear in the ranks' M, the sum over ranks follows exactly the
/// recursion one process would run on the whole batch (E summed over ranks is that
/// process's error): N ranks equal one process with `--compression powersgd` up to
/// rounding, and a single process compresses too, so it remains the debug run of the job.
/// For the same reason the error may be regrouped at will: before a checkpoint the ranks'
/// errors are summed onto rank 0 and zeroed elsewhere, in the live run as in the saved
/// state, so a resumed run continues exactly.
final class PowerSGDReducer: GradientReducer {
    /// A matrix exchanged as factors, inside the gradient buffer.
    struct Matrix {
        let name: String
        let range: Range<Int>
        let rows: Int, columns: Int
        /// Its first element in ``errors``, its P in ``p`` and its Q in ``q``.
        let errorOffset: Int, pOffset: Int, qOffset: Int
    }

    /// Matrices smaller than this are summed exactly: their factors would save little.
    static let minimumCompressed = 1 << 16

    let parameters: UnsafeMutableBufferPointer<Float>
    let gradients: UnsafeMutableBufferPointer<Float>
    let matrices: [Matrix]
    /// Ranges of the gradient summed exactly (everything outside ``matrices``).
    let exact: [Range<Int>]
    private let world: Communicator
    private let rank: Int
    private let errors: UnsafeMutableBufferPointer<Float>
    private let p: UnsafeMutableBufferPointer<Float>
    private let q: UnsafeMutableBufferPointer<Float>

    /// Collective over `world`. `tensors` is the model's layout of the `count` parameters.
    init(world: Communicator, tensors: [TensorInfo], count: Int, rank: Int, seed: UInt64) {
        self.world = world
        self.rank = rank
        var matrices: [Matrix] = []
        var sizes = (errors: 0, p: 0, q: 0)
        for t in tensors where t.trainable && t.shape.count >= 2 {
            let columns = t.shape.last!, rows = t.count / columns
            // Compressed when large and when the factors are at most half the matrix.
            guard t.count >= Self.minimumCompressed, 2 * (rows + columns) * rank <= t.count else { continue }
            matrices.append(Matrix(name: t.name, range: t.offset..<(t.offset + t.count), rows: rows, columns: columns,
                                   errorOffset: sizes.errors, pOffset: sizes.p, qOffset: sizes.q))
            sizes.errors += t.count
            sizes.p += rows * rank
            sizes.q += columns * rank
        }
        self.matrices = matrices
        var exact: [Range<Int>] = []
        var start = 0
        for m in matrices.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            if start < m.range.lowerBound { exact.append(start..<m.range.lowerBound) }
            start = m.range.upperBound
        }
        if start < count { exact.append(start..<count) }
        self.exact = exact
        func zeros(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            buffer.initialize(repeating: 0)
            return buffer
        }
        parameters = zeros(count)
        gradients = zeros(count)
        errors = zeros(sizes.errors)
        p = zeros(sizes.p)
        q = zeros(sizes.q)
        // Q starts Gaussian, the same on every rank (same seed).
        for (k, m) in matrices.enumerated() {
            var rng = CounterRandom.generator(seed: seed, .powerSGD(matrix: k), index: 0)
            for i in 0..<(m.columns * rank) { q[m.qOffset + i] = Float(rng.gaussian()) }
        }
    }

    deinit {
        for buffer in [parameters, gradients, errors, p, q] { buffer.deallocate() }
    }

    func gradientsReady(_ range: Range<Int>) throws {}

    func applyUpdate(_ update: (_ owned: [Range<Int>]) -> Void) throws {
        for m in matrices {
            // M = G + E, kept in E, and P = M Q: one pass over the matrix.
            let g = gradients.baseAddress! + m.range.lowerBound, e = errors.baseAddress! + m.errorOffset
            let qt = transposed(q.baseAddress! + m.qOffset, rows: m.columns)
            qt.withUnsafeBufferPointer { qt in
                let pm = p.baseAddress! + m.pOffset
                Parallel.forEachRange(m.rows, minimumPerThread: 64) { rows in
                    for i in rows {
                        let eRow = e + i * m.columns, gRow = g + i * m.columns
                        add(eRow, gRow, count: m.columns)
                        for c in 0..<rank { pm[i * rank + c] = dot(eRow, qt.baseAddress! + c * m.columns, count: m.columns) }
                    }
                }
            }
        }
        if world.size > 1 {
            try world.allreduce(p, op: .sum)
            for range in exact { try world.allreduce(UnsafeMutableBufferPointer(rebasing: gradients[range]), op: .sum) }
        }
        for m in matrices {
            let pm = p.baseAddress! + m.pOffset
            orthonormalizeColumns(pm, rows: m.rows, columns: rank)
            multiplyTransposed(errors.baseAddress! + m.errorOffset, m, by: pm, into: q.baseAddress! + m.qOffset)
        }
        if world.size > 1 { try world.allreduce(q, op: .sum) }
        let share = 1 / Float(world.size)
        for m in matrices {
            // G = P Q^T and E = M - G / ranks: one pass.
            let g = gradients.baseAddress! + m.range.lowerBound, e = errors.baseAddress! + m.errorOffset
            let pm = p.baseAddress! + m.pOffset
            let qt = transposed(q.baseAddress! + m.qOffset, rows: m.columns)
            qt.withUnsafeBufferPointer { qt in
                Parallel.forEachRange(m.rows, minimumPerThread: 64) { rows in
                    for i in rows {
                        reconstructRow(g + i * m.columns, error: e + i * m.columns, p: pm + i * rank, qt: qt.baseAddress!,
                                       rank: rank, columns: m.columns, share: share)
                    }
                }
            }
        }
        update([0..<gradients.count])
    }

    /// Q = M^T P (columns x rank), M rows x columns: rows split over the threads, each
    /// summing its own Q^T, the partial sums added in thread order.
    private func multiplyTransposed(_ matrix: UnsafePointer<Float>, _ m: Matrix, by pm: UnsafePointer<Float>, into qm: UnsafeMutablePointer<Float>) {
        let threads = max(1, min(BLAS.threads, m.rows / 64))
        var partials = [Float](repeating: 0, count: threads * rank * m.columns)
        partials.withUnsafeMutableBufferPointer { partials in
            let base = partials.baseAddress!
            Parallel.forEachRange(threads, minimumPerThread: 1) { workers in
                for w in workers {
                    let qt = base + w * rank * m.columns
                    for i in (w * m.rows / threads)..<((w + 1) * m.rows / threads) {
                        for c in 0..<rank { axpy(pm[i * rank + c], matrix + i * m.columns, into: qt + c * m.columns, count: m.columns) }
                    }
                }
            }
            for j in 0..<m.columns {
                for c in 0..<rank {
                    var sum: Float = 0
                    for w in 0..<threads { sum += base[(w * rank + c) * m.columns + j] }
                    qm[j * rank + c] = sum
                }
            }
        }
    }

    /// A rows x rank matrix transposed (rank x rows), so each column is contiguous.
    private func transposed(_ a: UnsafePointer<Float>, rows: Int) -> [Float] {
        var t = [Float](repeating: 0, count: rows * rank)
        for j in 0..<rows { for c in 0..<rank { t[c * rows + j] = a[j * rank + c] } }
        return t
    }

    func parametersWritten() throws {}

    func completeState(of optimizer: Optimizer) throws {
        guard world.size > 1 else { return }
        try world.reduce(errors, op: .sum, root: 0)
        if !world.isRoot { errors.update(repeating: 0) }
    }

    var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] {
        [("powersgd/error", errors), ("powersgd/q", q)]
    }

    func stateRestored() {
        if !world.isRoot { errors.update(repeating: 0) }
    }
}

/// Makes the columns of the row-major `rows` x `columns` matrix orthonormal (modified
/// Gram-Schmidt, applied twice against the loss of orthogonality, sums in Double). A column
/// with nothing left after removing the others (a gradient of lower rank than the
/// factors) becomes zero, not noise scaled up.
func orthonormalizeColumns(_ a: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    for j in 0..<columns {
        var initial = 0.0
        for k in 0..<rows { initial += Double(a[k * columns + j]) * Double(a[k * columns + j]) }
        for _ in 0..<2 {
            for i in 0..<j {
                var dot = 0.0
                for k in 0..<rows { dot += Double(a[k * columns + i]) * Double(a[k * columns + j]) }
                let d = Float(dot)
                for k in 0..<rows { a[k * columns + j] -= d * a[k * columns + i] }
            }
        }
        var norm = 0.0
        for k in 0..<rows { norm += Double(a[k * columns + j]) * Double(a[k * columns + j]) }
        norm = norm.squareRoot()
        // Less than float rounding of what the column held: it lay in the others' span.
        let scale: Float = norm > 1e-5 * initial.squareRoot() && norm > 0 ? Float(1 / norm) : 0
        for k in 0..<rows { a[k * columns + j] *= scale }
    }
}

// The fused passes over the 134 MB matrices are memory-bound: plain loops over SIMD8
// vectors move each byte once (OpenBLAS's sgemm with 4 columns packed the whole matrix
// first, and took most of a step).

/// a += b
private func add(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    var j = 0
    while j + 8 <= count {
        let v = UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(a + j).storeBytes(of: v, as: SIMD8<Float>.self)
        j += 8
    }
    while j < count { a[j] += b[j]; j += 1 }
}

/// g = sum over c of p[c] qt[c] (a row of P Q^T), and e -= share g, in one pass.
private func reconstructRow(_ g: UnsafeMutablePointer<Float>, error e: UnsafeMutablePointer<Float>, p: UnsafePointer<Float>,
                            qt: UnsafePointer<Float>, rank: Int, columns: Int, share: Float) {
    var j = 0
    while j + 8 <= columns {
        var sum = SIMD8<Float>()
        for c in 0..<rank { sum += p[c] * UnsafeRawPointer(qt + c * columns + j).loadUnaligned(as: SIMD8<Float>.self) }
        UnsafeMutableRawPointer(g + j).storeBytes(of: sum, as: SIMD8<Float>.self)
        let error = UnsafeRawPointer(e + j).loadUnaligned(as: SIMD8<Float>.self) - share * sum
        UnsafeMutableRawPointer(e + j).storeBytes(of: error, as: SIMD8<Float>.self)
        j += 8
    }
    while j < columns {
        var sum: Float = 0
        for c in 0..<rank { sum += p[c] * qt[c * columns + j] }
        g[j] = sum
        e[j] -= share * sum
        j += 1
    }
}

/// y += alpha x
private func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    var j = 0
    while j + 8 <= count {
        let v = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self) + alpha * UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: SIMD8<Float>.self)
        j += 8
    }
    while j < count { y[j] += alpha * x[j]; j += 1 }
}

/// The dot product of two vectors, in eight lanes.
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var j = 0
    while j + 8 <= count {
        lanes += UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
        j += 8
    }
    var sum = lanes.sum()
    while j < count { sum += a[j] * b[j]; j += 1 }
    return sum
}
