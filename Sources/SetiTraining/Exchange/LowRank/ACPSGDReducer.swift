import SetiNet
import SwiftMPI

/// `--exchange acpsgd`: ACP-SGD (Zhang, Zhang, Shi, Chu and Li 2023), which makes one
/// factor per step, in turn, from the other one of the step before:
///
///     even steps: Q orthonormalized,  P = sum over ranks of M Q,    G = P Q^T
///     odd steps:  P orthonormalized,  Q = sum over ranks of M^T P,  G = P Q^T
///
/// Either way G projects M onto the last step's subspace, as a power iteration spread over
/// two steps would. (M, E and what the factors share with PowerSGD: ``LowRankReducer``.)
/// The new factor comes from M alone, so backward's fold makes it (no second pass over the
/// matrix), and it goes out while the convolutions' backward computes: nothing of the
/// compression is left after backward but G = P Q^T. Before each step the factor to be
/// kept is made orthonormal and the other absorbs the change, so that the P Q^T still owed
/// by M stays the same (``prepareStep()``).
final class ACPSGDReducer: LowRankReducer {
    static let kind = registration(
        name: "ACP-SGD", summary: "as powersgd, one factor per step in turn, made and sent during backward (ACP-SGD)")

    /// On the steps that make Q: each block's part of Q^T = P^T M (see
    /// ``KernelGradientFold/rightSums``), each matrix's from its ``sumsOffset`` entry.
    private var rightSums = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// Each matrix's first float in ``rightSums``, by the matrix's offset in the gradient.
    private var sumsOffset: [Int: Int] = [:]
    /// The new Q^T, the sum of the blocks' parts, which is exchanged (laid out as ``qt``).
    private var qtNext = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    /// This step's kept factor is orthonormal (``prepareStep()``).
    private var prepared = false
    /// Every other compressed step the fold makes Q from P.
    private var makesRight: Bool { compressedSteps % 2 == 1 }

    required init(world: Communicator, tensors: [TensorInfo], count: Int, rank: Int, startStep: Int = 0, seed: UInt64, overlap: Bool,
                  blockFloats: Int = 1 << 18) {
        super.init(world: world, tensors: tensors, count: count, rank: rank, startStep: startStep, seed: seed, overlap: overlap,
                   blockFloats: blockFloats)
        var sums = 0
        for m in matrices {
            sumsOffset[m.range.lowerBound] = sums
            sums += KernelGradientFold.sums(rows: m.rows) * rank * Self.qtStride(columns: m.columns)
        }
        rightSums = .allocateAligned(zeroed: sums)
        qtNext = .allocateAligned(zeroed: qt.count)
    }

    deinit { for buffer in [rightSums, qtNext] { buffer.deallocate() } }

    override func fold(of m: Matrix) -> KernelGradientFold {
        prepareStep()
        return makeFold(of: m, rightSums: makesRight ? rightSums.baseAddress! + sumsOffset[m.range.lowerBound]! : nil)
    }

    /// Once per compressed step before the folds: orthonormalizes the factor the fold
    /// multiplies M by (Q, or P on the steps that make Q), the other factor taking over
    /// the change so that the P Q^T that M may owe is the same; zeroes the blocks' sums.
    private func prepareStep() {
        guard !prepared else { return }
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

    /// P, or on the steps that make Q the new Q^T: the blocks' parts added in block order.
    override func outgoing(_ m: Matrix) -> UnsafeMutableBufferPointer<Float> {
        guard makesRight else { return super.outgoing(m) }
        let size = rank * Self.qtStride(columns: m.columns)
        let sums = rightSums.baseAddress! + sumsOffset[m.range.lowerBound]!
        let next = UnsafeMutableBufferPointer(rebasing: qtNext[m.qtOffset..<(m.qtOffset + size)])
        next.baseAddress!.update(from: sums, count: size)
        for b in 1..<KernelGradientFold.sums(rows: m.rows) {
            let block = sums + b * size
            for i in 0..<size { next[i] += block[i] }
        }
        return next
    }

    /// On the steps that made Q: the summed Q^T becomes Q.
    override func completeFactors() throws {
        defer { prepared = false }
        guard makesRight else { return }
        for m in matrices {
            let next = qtNext.baseAddress! + m.qtOffset, qm = q.baseAddress! + m.qOffset, stride = Self.qtStride(columns: m.columns)
            for j in 0..<m.columns { for c in 0..<rank { qm[j * rank + c] = next[c * stride + j] } }
        }
        transposeQ()
    }

    override var stateSlots: [(name: String, values: UnsafeMutableBufferPointer<Float>)] {
        // P carries over to the next step too.
        [("powersgd/error", errors), ("powersgd/p", p), ("powersgd/q", q)]
    }

    override func stateRestored(step: Int) {
        super.stateRestored(step: step)
        prepared = false
    }
}
