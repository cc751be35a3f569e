import CKernels
import SetiNet
import SetiRandom
import SwiftMPI

/// What the low-rank exchanges (``PowerSGDReducer``, ``ACPSGDReducer``) share. Each large
/// weight matrix's gradient, viewed as rows x columns (all dimensions but the last x the
/// last), is exchanged as two thin factors P (rows x r) and Q (columns x r), with error
/// feedback:
///
///     M = G + E                 this rank's gradient plus its error
///     G = P Q^T                 the gradient every rank applies, P and Q summed over ranks
///     E = M - G / ranks         what this rank's share of the sum did not transmit
///
/// The subclasses differ only in how a step makes its factors: ``fold(of:)`` (the new
/// factor backward makes from M), ``outgoing(_:)`` (the one summed while the convolutions'
/// backward computes) and ``completeFactors()`` (what is left after backward). The defaults
/// make the left factor, P = M Q, and send it.
///
/// This class holds the rest: which tensors are compressed (``LowRankLayout``: large ones
/// whose factors are at most half of them; the others, convolutions, biases and batch norm,
/// are summed exactly), the first `startStep` steps summed exactly
/// (`--powersgd-start-step`), the factors' memory, the non-blocking sums started as
/// backward finishes each tensor, and G = P Q^T made block by block as the optimizer
/// reaches it.
///
/// Since every step is linear in the ranks' M, the sum over ranks follows exactly the
/// recursion one process would run on the whole batch (E summed over ranks is that
/// process's error): N ranks equal one process up to rounding, and a single process
/// compresses too, so it remains the debug run of the job. For the same reason the error
/// may be regrouped at will: before a checkpoint the ranks' errors are summed onto rank 0
/// and zeroed elsewhere, in the live run as in the saved state, so a resumed run continues
/// exactly.
///
/// M lives in ``errors``. The subtraction that turns M into E is owed until the next
/// step's fold (or a checkpoint), which reads M anyway, instead of a pass of its own; and a
/// dense layer's kernel gradient goes straight into M as backward computes it
/// (``kernelGradientFolds()``), so G never goes to memory.
class LowRankReducer: GradientReducer {
    typealias Matrix = LowRankLayout.Matrix

    let parameters: UnsafeMutableBufferPointer<Float>
    let gradients: UnsafeMutableBufferPointer<Float>
    /// Which tensors are compressed, and where their factors live.
    let layout: LowRankLayout
    var matrices: [Matrix] { layout.matrices }
    let world: Communicator
    /// The factors' rank r.
    let rank: Int
    /// M, or E once settled, for every matrix.
    let errors: UnsafeMutableBufferPointer<Float>
    let p: UnsafeMutableBufferPointer<Float>
    let q: UnsafeMutableBufferPointer<Float>
    /// Q transposed (rank x columns per matrix, rows ``qtStride(columns:)`` apart), so that each
    /// column of Q is contiguous for the passes; kept equal to ``q`` by ``transposeQ()``.
    let qt: UnsafeMutableBufferPointer<Float>
    /// One block's G, for the optimizer.
    private let expanded: UnsafeMutableBufferPointer<Float>
    /// This step's folds handed to backward, by the offset of their matrix.
    private var folds: [Int: KernelGradientFold] = [:]
    /// 1 / ranks while ``errors`` holds M and E = M - P Q^T / ranks is owed; 0 once settled.
    private(set) var owedShare: Float = 0
    private let overlap: Bool
    private let startStep: Int
    /// Updates applied so far (the optimizer step of the next one).
    private var steps = 0
    var compressing: Bool { steps >= startStep }
    /// Compressed steps before this one.
    var compressedSteps: Int { steps - startStep }
    /// This step: the gradients at and above this index have gone out (their matrices'
    /// factor made and sent, or the whole matrices before compression starts, and their
    /// exact ranges sent); the count while nothing has.
    private var startedFrom: Int
    private var pending: [AllreduceRequest] = []

    /// The registry entry (``ExchangeKind``) of the subclass it is called on, which the run's
    /// start line calls `name`, made with the `--powersgd-*` settings.
    static func registration(name: String, summary: String) -> ExchangeKind {
        ExchangeKind(
            summary: summary, isLowRank: true,
            describe: { config, ranks in
                let start = config.powerSGDStartStep
                return name + " rank \(config.powerSGDRank) on the large matrices "
                    + (start == 0 ? "from the first step" : "after \(start) exact step\(start == 1 ? "" : "s")")
                    + (ranks == 1 ? " (one process compresses as N ranks would)" : ", MPI allreduce" + config.overlapWords)
            },
            make: { world, spec, config in
                self.init(world: world, tensors: Network.tensors(of: spec), count: Network.parameterCount(of: spec), rank: config.powerSGDRank,
                          startStep: config.powerSGDStartStep, seed: config.seed, overlap: config.overlap)
            })
    }

    /// Collective over `world`. `tensors` is the model's layout of the `count` parameters.
    /// The optimizer reaches the matrices' G in blocks of whole rows of about
    /// `blockFloats` floats (1 MB: a core's share of L2 on two cores).
    required init(world: Communicator, tensors: [TensorInfo], count: Int, rank: Int, startStep: Int = 0, seed: UInt64, overlap: Bool,
                  blockFloats: Int = 1 << 18) {
        self.world = world
        self.rank = rank
        self.startStep = startStep
        self.overlap = overlap
        startedFrom = count
        layout = LowRankLayout(tensors: tensors, count: count, rank: rank, blockFloats: blockFloats)
        expanded = .allocateAligned(zeroed: layout.largestBlock)
        parameters = .allocateAligned(zeroed: count)
        gradients = .allocateAligned(zeroed: count)
        errors = .allocateAligned(zeroed: layout.sizes.errors)
        p = .allocateAligned(zeroed: layout.sizes.p)
        q = .allocateAligned(zeroed: layout.sizes.q)
        qt = .allocateAligned(zeroed: layout.sizes.qt)
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
        for buffer in [parameters, gradients, errors, p, q, qt, expanded] { buffer.deallocate() }
    }

    // MARK: What a subclass decides

    /// This step's fold of G into matrix `m`'s M and its new factor: by default the left
    /// one, P = M Q.
    func fold(of m: Matrix) -> KernelGradientFold { makeFold(of: m, rightSums: nil) }

    /// Matrix `m`'s new factor, once backward made it: the part of the step summed over the
    /// ranks while the convolutions' backward computes. By default P.
    func outgoing(_ m: Matrix) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: p[m.pOffset..<(m.pOffset + m.rows * rank)])
    }

    /// After the sums of ``outgoing(_:)`` arrived: makes ``p`` and ``q`` (and ``qt``) the
    /// factors of this step's G = P Q^T.
    func completeFactors() throws {}

    // MARK: The step

    func kernelGradientFolds() -> [Int: KernelGradientFold] {
        guard compressing else { return [:] }
        folds = Dictionary(uniqueKeysWithValues: matrices.map { ($0.range.lowerBound, fold(of: $0)) })
        return folds
    }

    /// A fold of matrix `m` that makes P, or with `rightSums` the blocks' Q^T there.
    final func makeFold(of m: Matrix, rightSums: UnsafeMutablePointer<Float>?) -> KernelGradientFold {
        KernelGradientFold(
            matrix: errors.baseAddress! + m.errorOffset, projection: p.baseAddress! + m.pOffset, qt: qtPointer(m),
            qtStride: Self.qtStride(columns: m.columns), rank: rank, share: owedShare, rightSums: rightSums)
    }

    func gradientsReady(_ range: Range<Int>) throws {
        guard overlap, world.size > 1 else { return }
        try start(downTo: range.lowerBound)
        // OpenMPI progresses non-blocking collectives inside MPI calls.
        for request in pending { try request.test() }
    }

    /// Backward has finished the gradients from `ready` on. For each matrix newly finished,
    /// its fold (one pass over M, unless backward folded G in already), then its new factor
    /// goes out, as each newly finished exact range does. Before compression starts, the
    /// matrices go out whole.
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
            let factor = outgoing(m)
            if world.size > 1 { pending.append(try world.startAllreduce(factor, op: .sum)) }
        }
        for range in layout.exact where finished.contains(range.lowerBound) {
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
        try completeFactors()
        // G = P Q^T, block by block as the optimizer reaches it, into one small buffer that
        // stays in the cache: G never goes to memory.
        owedShare = 1 / Float(world.size)
        update(GradientSource(ranges: layout.updateRanges) { [self] range in
            guard let k = layout.blockMatrix[range.lowerBound] else { return UnsafePointer(gradients.baseAddress! + range.lowerBound) }
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
            let e = errors.baseAddress! + m.errorOffset, pm = p.baseAddress! + m.pOffset
            Parallel.forEachRange(m.rows, minimumPerThread: 64) { rows in
                seti_powersgd_settle(e + rows.lowerBound * m.columns, pm + rows.lowerBound * rank, qtPointer(m),
                                     Self.qtStride(columns: m.columns), rows.count, m.columns, Int32(rank), owedShare)
            }
        }
        owedShare = 0
    }

    // MARK: Q^T

    /// Makes ``qt`` Q^T again after ``q`` changed.
    final func transposeQ() {
        for m in matrices {
            let a = q.baseAddress! + m.qOffset, t = qt.baseAddress! + m.qtOffset, stride = Self.qtStride(columns: m.columns)
            for j in 0..<m.columns { for c in 0..<rank { t[c * stride + j] = a[j * rank + c] } }
        }
    }

    final func qtPointer(_ m: Matrix) -> UnsafePointer<Float> { UnsafePointer(qt.baseAddress! + m.qtOffset) }

    static func qtStride(columns: Int) -> Int { LowRankLayout.qtStride(columns: columns) }

    // MARK: Checkpoints

    func parametersWritten() throws {}

    func completeState(of optimizer: Optimizer) throws {
        settle()
        guard world.size > 1 else { return }
        try world.reduce(errors, op: .sum, root: 0)
        if !world.isRoot { errors.update(repeating: 0) }
    }

    var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] {
        [("powersgd/error", errors), ("powersgd/q", q)]
    }

    func stateRestored(step: Int) {
        steps = step
        owedShare = 0
        transposeQ()
        if !world.isRoot { errors.update(repeating: 0) }
    }
}
