import CKernels
import SetiNet
import SetiRandom
import SwiftMPI

/// `--exchange powersgd`: PowerSGD (Vogels, Karimireddy and Jaggi 2019, the algorithm of
/// PyTorch DDP's `powerSGD_hook`). Each large weight matrix's gradient, viewed as rows x
/// columns (all dimensions but the last x the last), is exchanged as two thin factors:
///
///     M = G + E                 this rank's gradient plus its error feedback
///     P = sum over ranks of M Q     (rows x r), then orthonormalized
///     Q = sum over ranks of M^T P   (columns x r)
///     G = P Q^T                 the gradient every rank applies
///     E = M - G / ranks         what this rank's share of the sum did not transmit
///
/// One power iteration per step, warm-started from the previous step's Q. The first
/// `startStep` steps sum every gradient exactly (`--powersgd-start-step`). For the dense
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
///
/// Each step passes over the 134 MB matrix twice (the passes are in CKernels): the
/// subtraction that turns M into E is owed until the next step's first pass (or a
/// checkpoint), which reads M anyway, instead of a pass of its own; and a dense layer's
/// kernel gradient goes straight into M as backward computes it (``kernelGradientFolds()``),
/// so the first pass is backward's own and G never goes to memory.
///
/// With overlap, a matrix's P, like each exactly summed range once final, goes out in a
/// non-blocking allreduce as soon as backward has finished it (the dense kernel is the
/// second layer backward reaches), while the convolutions' backward computes.
///
/// `alternating` (`--exchange acpsgd`): ACP-SGD (Zhang, Zhang, Shi, Chu and Li 2023),
/// which makes one factor per step, in turn, from the other one of the step before:
///
///     even steps: Q orthonormalized,  P = sum over ranks of M Q,    G = P Q^T
///     odd steps:  P orthonormalized,  Q = sum over ranks of M^T P,  G = P Q^T
///
/// Either way G projects M onto the last step's subspace, as a power iteration spread over
/// two steps would. The new factor comes from M alone, so backward's fold makes it (no
/// second pass over the matrix), and it goes out while the convolutions' backward computes:
/// nothing of the compression is left after backward but G = P Q^T. Before each step the
/// factor to be kept is made orthonormal and the other absorbs the change, so that the P Q^T
/// still owed by M stays the same (``prepareStep()``).
final class PowerSGDReducer: GradientReducer {
    static let powerSGD = lowRank(alternating: false)
    static let acpSGD = lowRank(alternating: true)

    private static func lowRank(alternating: Bool) -> ExchangeKind {
        ExchangeKind(
            summary: alternating ? "as powersgd, one factor per step in turn, made and sent during backward (ACP-SGD)"
                : "rank-r factors of the large matrices with error feedback (--powersgd-rank), small tensors exact",
            isLowRank: true,
            describe: { config, ranks in
                let start = config.powerSGDStartStep
                return (alternating ? "ACP-SGD" : "PowerSGD") + " rank \(config.powerSGDRank) on the large matrices "
                    + (start == 0 ? "from the first step" : "after \(start) exact step\(start == 1 ? "" : "s")")
                    + (ranks == 1 ? " (one process compresses as N ranks would)" : ", MPI allreduce" + config.overlapWords)
            },
            make: { world, spec, config in
                PowerSGDReducer(world: world, tensors: Network.tensors(of: spec), count: Network.parameterCount(of: spec), rank: config.powerSGDRank,
                                startStep: config.powerSGDStartStep, seed: config.seed, overlap: config.overlap, alternating: alternating)
            })
    }

    /// A matrix exchanged as factors, inside the gradient buffer.
    struct Matrix {
        let name: String
        let range: Range<Int>
        let rows: Int, columns: Int
        /// Its first element in ``errors``, its P in ``p``, its Q in ``q``, its Q^T in ``qt``
        /// and ``qtNext``, and its blocks' Q^T in ``rightSums``.
        let errorOffset: Int, pOffset: Int, qOffset: Int, qtOffset: Int, sumsOffset: Int
    }

    /// Matrices smaller than this are summed exactly: their factors would save little.
    static let minimumCompressed = 1 << 16

    let parameters: UnsafeMutableBufferPointer<Float>
    let gradients: UnsafeMutableBufferPointer<Float>
    let matrices: [Matrix]
    /// Ranges of the gradient summed exactly (everything outside ``matrices``).
    let exact: [Range<Int>]
    /// The optimizer's ranges while compressing, in order: the exact ranges whole, the
    /// matrices in blocks of rows (about 1 MB), whose G = P Q^T is made block by block just
    /// before the optimizer reads it.
    private let updateRanges: [Range<Int>]
    /// The index in ``matrices`` of each matrix block in ``updateRanges``, by its first element.
    private let blockMatrix: [Int: Int]
    /// One block's G, for the optimizer.
    private let expanded: UnsafeMutableBufferPointer<Float>
    private let world: Communicator
    private let rank: Int
    private let errors: UnsafeMutableBufferPointer<Float>
    private let p: UnsafeMutableBufferPointer<Float>
    private let q: UnsafeMutableBufferPointer<Float>
    /// Q transposed (rank x columns per matrix, rows ``qtStride(columns:)`` apart), so that each
    /// column of Q is contiguous for the passes; kept equal to ``q`` by ``transposeQ()``.
    private let qt: UnsafeMutableBufferPointer<Float>
    /// Alternating: each block's part of Q^T = P^T M on the steps that make Q
    /// (see ``KernelGradientFold/rightSums``), and their sum, which is exchanged.
    private let rightSums: UnsafeMutableBufferPointer<Float>
    private let qtNext: UnsafeMutableBufferPointer<Float>
    /// ACP-SGD: one factor per step, alternately (see the type's comment).
    private let alternating: Bool
    /// Alternating: this step's kept factor is orthonormal (``prepareStep()``).
    private var prepared = false
    /// This step's folds handed to backward, by the offset of their matrix.
    private var folds: [Int: KernelGradientFold] = [:]
    /// 1 / ranks while ``errors`` holds M and E = M - P Q^T / ranks is owed; 0 once settled.
    private var owedShare: Float = 0
    private let overlap: Bool
    private let startStep: Int
    /// Updates applied so far (the optimizer step of the next one).
    private var steps = 0
    private var compressing: Bool { steps >= startStep }
    /// Alternating, on every other compressed step: the fold makes Q from P.
    private var makesRight: Bool { alternating && (steps - startStep) % 2 == 1 }
    /// This step: the gradients at and above this index have gone out (their matrices' P
    /// computed and sent, or the whole matrices before compression starts, and their exact
    /// ranges sent); the count while nothing has.
    private var startedFrom: Int
    private var pending: [AllreduceRequest] = []

    /// Collective over `world`. `tensors` is the model's layout of the `count` parameters.
    /// The optimizer reaches the matrices' G in blocks of whole rows of about
    /// `blockFloats` floats (1 MB: a core's share of L2 on two cores).
    init(
        world: Communicator, tensors: [TensorInfo], count: Int, rank: Int, startStep: Int = 0, seed: UInt64, overlap: Bool,
        alternating: Bool = false, blockFloats: Int = 1 << 18
    ) {
        self.world = world
        self.rank = rank
        self.startStep = startStep
        self.overlap = overlap
        self.alternating = alternating
        startedFrom = count
        var matrices: [Matrix] = []
        var sizes = (errors: 0, p: 0, q: 0, qt: 0, sums: 0)
        for t in tensors where t.trainable && t.shape.count >= 2 {
            let columns = t.shape.last!, rows = t.count / columns
            // Compressed when large and when the factors are at most half the matrix.
            guard t.count >= Self.minimumCompressed, 2 * (rows + columns) * rank <= t.count else { continue }
            matrices.append(Matrix(name: t.name, range: t.offset..<(t.offset + t.count), rows: rows, columns: columns,
                                   errorOffset: sizes.errors, pOffset: sizes.p, qOffset: sizes.q, qtOffset: sizes.qt,
                                   sumsOffset: sizes.sums))
            sizes.errors += t.count
            sizes.p += rows * rank
            sizes.q += columns * rank
            sizes.qt += rank * Self.qtStride(columns: columns)
            if alternating { sizes.sums += KernelGradientFold.sums(rows: rows) * rank * Self.qtStride(columns: columns) }
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
        var ranges = exact.map { (range: $0, matrix: Int?.none) }
        for (k, m) in matrices.enumerated() {
            let rowsPerBlock = max(1, blockFloats / m.columns)
            for first in stride(from: 0, to: m.rows, by: rowsPerBlock) {
                let start = m.range.lowerBound + first * m.columns
                ranges.append((start..<min(m.range.upperBound, start + rowsPerBlock * m.columns), k))
            }
        }
        ranges.sort { $0.range.lowerBound < $1.range.lowerBound }
        updateRanges = ranges.map(\.range)
        expanded = .allocateAligned(zeroed: ranges.filter { $0.matrix != nil }.map(\.range.count).max() ?? 0)
        blockMatrix = Dictionary(uniqueKeysWithValues: ranges.compactMap { r in r.matrix.map { (r.range.lowerBound, $0) } })
        parameters = .allocateAligned(zeroed: count)
        gradients = .allocateAligned(zeroed: count)
        errors = .allocateAligned(zeroed: sizes.errors)
        p = .allocateAligned(zeroed: sizes.p)
        q = .allocateAligned(zeroed: sizes.q)
        qt = .allocateAligned(zeroed: sizes.qt)
        qtNext = .allocateAligned(zeroed: alternating ? sizes.qt : 0)
        rightSums = .allocateAligned(zeroed: sizes.sums)
        // Q starts Gaussian, the same on every rank (same seed).
        for (k, m) in matrices.enumerated() {
            var rng = CounterRandom.generator(seed: seed, .powerSGD(matrix: k), index: 0)
            for i in 0..<(m.columns * rank) { q[m.qOffset + i] = Float(rng.gaussian()) }
        }
        transposeQ()
    }

    deinit {
        // An unfinished request must complete before its buffer goes.
        for request in pending { try? request.wait() }
        for buffer in [parameters, gradients, errors, p, q, qt, qtNext, rightSums, expanded] { buffer.deallocate() }
    }

    func kernelGradientFolds() -> [Int: KernelGradientFold] {
        guard compressing else { return [:] }
        folds = Dictionary(uniqueKeysWithValues: matrices.map { ($0.range.lowerBound, fold(of: $0)) })
        return folds
    }

    /// This step's fold of G into matrix `m`'s M and its new factor.
    private func fold(of m: Matrix) -> KernelGradientFold {
        prepareStep()
        return KernelGradientFold(
            matrix: errors.baseAddress! + m.errorOffset, projection: p.baseAddress! + m.pOffset, qt: qtPointer(m),
            qtStride: Self.qtStride(columns: m.columns), rank: rank, share: owedShare,
            rightSums: makesRight ? rightSums.baseAddress! + m.sumsOffset : nil)
    }

    /// Alternating, once per compressed step before the folds: orthonormalizes the factor
    /// the fold multiplies M by (Q, or P on the steps that make Q), the other factor taking
    /// over the change so that the P Q^T that M may owe is the same; zeroes the blocks'
    /// sums of Q^T.
    private func prepareStep() {
        guard alternating, compressing, !prepared else { return }
        prepared = true
        for m in matrices {
            let pm = p.baseAddress! + m.pOffset, qm = q.baseAddress! + m.qOffset
            if makesRight {
                orthonormalizeColumns(pm, rows: m.rows, carrying: qm, rows: m.columns, columns: rank)
            } else {
                orthonormalizeColumns(qm, rows: m.columns, carrying: pm, rows: m.rows, columns: rank)
            }
        }
        transposeQ()
        if makesRight { rightSums.update(repeating: 0) }
    }

    func gradientsReady(_ range: Range<Int>) throws {
        guard overlap, world.size > 1 else { return }
        try start(downTo: range.lowerBound)
        // OpenMPI progresses non-blocking collectives inside MPI calls.
        for request in pending { try request.test() }
    }

    /// Backward has finished the gradients from `ready` on. For each matrix newly finished:
    /// M = (E owed from the last step) + G, kept in E, and P = M Q, one pass (unless
    /// backward folded G in already); its P then goes out, as each newly finished exact
    /// range does. Before compression starts, the matrices go out whole.
    private func start(downTo ready: Int) throws {
        guard ready < startedFrom else { return }
        let finished = ready..<startedFrom
        startedFrom = ready
        for m in matrices where finished.contains(m.range.lowerBound) {
            guard compressing else {
                if world.size > 1 { pending.append(try world.startAllreduce(UnsafeMutableBufferPointer(rebasing: gradients[m.range]), op: .sum)) }
                continue
            }
            let fold = folds[m.range.lowerBound] ?? fold(of: m)
            if !fold.applied { fold.apply(gradient: gradients.baseAddress! + m.range.lowerBound, rows: m.rows, columns: m.columns) }
            let factor: UnsafeMutableBufferPointer<Float>
            if makesRight {
                factor = UnsafeMutableBufferPointer(rebasing: qtNext[m.qtOffset..<(m.qtOffset + rank * Self.qtStride(columns: m.columns))])
                addBlockSums(of: m, into: factor.baseAddress!)
            } else {
                factor = UnsafeMutableBufferPointer(rebasing: p[m.pOffset..<(m.pOffset + m.rows * rank)])
            }
            if world.size > 1 { pending.append(try world.startAllreduce(factor, op: .sum)) }
        }
        for range in exact where finished.contains(range.lowerBound) {
            if world.size > 1 { pending.append(try world.startAllreduce(UnsafeMutableBufferPointer(rebasing: gradients[range]), op: .sum)) }
        }
    }

    func applyUpdate(_ update: (GradientSource) -> Void) throws {
        try start(downTo: 0)
        for request in pending { try request.wait() }
        pending.removeAll()
        folds = [:]
        startedFrom = gradients.count
        defer { steps += 1 }
        guard compressing else { return update(GradientSource(ranges: [0..<gradients.count])) }
        if !alternating {
            for m in matrices {
                let pm = p.baseAddress! + m.pOffset
                orthonormalizeColumns(pm, rows: m.rows, columns: rank)
                multiplyTransposed(errors.baseAddress! + m.errorOffset, m, by: pm, into: q.baseAddress! + m.qOffset)
            }
            if world.size > 1 { try world.allreduce(q, op: .sum) }
            transposeQ()
        } else if makesRight {
            for m in matrices {
                let next = qtNext.baseAddress! + m.qtOffset, qm = q.baseAddress! + m.qOffset, stride = Self.qtStride(columns: m.columns)
                for j in 0..<m.columns { for c in 0..<rank { qm[j * rank + c] = next[c * stride + j] } }
            }
            transposeQ()
        }
        prepared = false
        // G = P Q^T, block by block as the optimizer reaches it, into one small buffer that
        // stays in the cache: G never goes to memory.
        owedShare = 1 / Float(world.size)
        update(GradientSource(ranges: updateRanges) { [self] range in
            guard let k = blockMatrix[range.lowerBound] else { return UnsafePointer(gradients.baseAddress! + range.lowerBound) }
            let m = matrices[k], first = (range.lowerBound - m.range.lowerBound) / m.columns
            let g = expanded.baseAddress!, pm = p.baseAddress! + m.pOffset + first * rank
            Parallel.forEachRange(range.count / m.columns, minimumPerThread: 64) { rows in
                seti_powersgd_expand(
                    g + rows.lowerBound * m.columns, pm + rows.lowerBound * rank, qtPointer(m), Self.qtStride(columns: m.columns),
                    rows.count, m.columns, Int32(rank))
            }
            return UnsafePointer(g)
        })
    }

    /// Makes ``errors`` hold E: subtracts the share of the last step's P Q^T if it is owed.
    private func settle() {
        guard owedShare != 0 else { return }
        for m in matrices {
            forEachRowBlock(m) { rows, e, pm in
                seti_powersgd_settle(e, pm, qtPointer(m), Self.qtStride(columns: m.columns), rows.count, m.columns, Int32(rank), owedShare)
            }
        }
        owedShare = 0
    }

    /// Runs `body` over blocks of the matrix's rows on the BLAS threads, with the block's
    /// first row of E (or M) and of P.
    private func forEachRowBlock(_ m: Matrix, _ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let e = errors.baseAddress! + m.errorOffset, pm = p.baseAddress! + m.pOffset
        Parallel.forEachRange(m.rows, minimumPerThread: 64) { rows in
            body(rows, e + rows.lowerBound * m.columns, pm + rows.lowerBound * rank)
        }
    }

    /// Alternating: the matrix's Q^T, the sum of its blocks' in block order.
    private func addBlockSums(of m: Matrix, into qtm: UnsafeMutablePointer<Float>) {
        let size = rank * Self.qtStride(columns: m.columns), sums = rightSums.baseAddress! + m.sumsOffset
        qtm.update(from: sums, count: size)
        for b in 1..<KernelGradientFold.sums(rows: m.rows) {
            let block = sums + b * size
            for i in 0..<size { qtm[i] += block[i] }
        }
    }

    /// Q = M^T P (columns x rank), M rows x columns: rows split over the threads, each
    /// summing its own Q^T, the partial sums added in thread order.
    private func multiplyTransposed(_ matrix: UnsafePointer<Float>, _ m: Matrix, by pm: UnsafePointer<Float>, into qm: UnsafeMutablePointer<Float>) {
        let threads = max(1, min(BLAS.threads, m.rows / 64)), stride = Self.qtStride(columns: m.columns)
        var partials = [Float](repeating: 0, count: threads * rank * stride)
        partials.withUnsafeMutableBufferPointer { partials in
            let base = partials.baseAddress!
            Parallel.forEachRange(threads, minimumPerThread: 1) { workers in
                for w in workers {
                    let first = w * m.rows / threads, end = (w + 1) * m.rows / threads
                    seti_powersgd_project(matrix + first * m.columns, pm + first * rank, base + w * rank * stride, stride,
                                          end - first, m.columns, Int32(rank))
                }
            }
            for j in 0..<m.columns {
                for c in 0..<rank {
                    var sum: Float = 0
                    for w in 0..<threads { sum += base[(w * rank + c) * stride + j] }
                    qm[j * rank + c] = sum
                }
            }
        }
    }

    /// Makes ``qt`` Q^T again after ``q`` changed.
    private func transposeQ() {
        for m in matrices {
            let a = q.baseAddress! + m.qOffset, t = qt.baseAddress! + m.qtOffset, stride = Self.qtStride(columns: m.columns)
            for j in 0..<m.columns { for c in 0..<rank { t[c * stride + j] = a[j * rank + c] } }
        }
    }

    private func qtPointer(_ m: Matrix) -> UnsafePointer<Float> { UnsafePointer(qt.baseAddress! + m.qtOffset) }

    /// Floats between the rows of Q^T as the C passes get it: a cache line more than the
    /// columns, so that rows 4 KB apart do not share L1 sets (see powersgd_passes.c).
    static func qtStride(columns: Int) -> Int { columns + 16 }

    func parametersWritten() throws {}

    func completeState(of optimizer: Optimizer) throws {
        settle()
        guard world.size > 1 else { return }
        try world.reduce(errors, op: .sum, root: 0)
        if !world.isRoot { errors.update(repeating: 0) }
    }

    var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] {
        // Alternating, P carries over to the next step too.
        [("powersgd/error", errors)] + (alternating ? [("powersgd/p", p)] : []) + [("powersgd/q", q)]
    }

    func stateRestored(step: Int) {
        steps = step
        owedShare = 0
        prepared = false
        transposeQ()
        if !world.isRoot { errors.update(repeating: 0) }
    }
}

/// Makes the columns of `a` (row-major, `rows` x `columns`) orthonormal as below, and
/// multiplies `b` (`bRows` x `columns`) so that a b^T stays the same: a = A S with A the
/// orthonormal result and S = A^T a, so a b^T = A (b S^T)^T.
func orthonormalizeColumns(
    _ a: UnsafeMutablePointer<Float>, rows: Int, carrying b: UnsafeMutablePointer<Float>, rows bRows: Int, columns: Int
) {
    let before = Array(UnsafeBufferPointer(start: a, count: rows * columns))
    orthonormalizeColumns(a, rows: rows, columns: columns)
    var s = [Double](repeating: 0, count: columns * columns)
    for k in 0..<rows {
        for c in 0..<columns { for d in 0..<columns { s[c * columns + d] += Double(a[k * columns + c]) * Double(before[k * columns + d]) } }
    }
    var row = [Double](repeating: 0, count: columns)
    for k in 0..<bRows {
        for c in 0..<columns {
            var sum = 0.0
            for d in 0..<columns { sum += Double(b[k * columns + d]) * s[c * columns + d] }
            row[c] = sum
        }
        for c in 0..<columns { b[k * columns + c] = Float(row[c]) }
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
