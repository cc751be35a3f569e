import SetiRandom

/// Which samples each rank trains on in one epoch, with the semantics of PyTorch's
/// DistributedSampler: one shuffle of the whole epoch from (seed, epoch), shared by all
/// ranks; every rank gets a disjoint, equally sized part; together they cover the epoch.
///
/// The shuffled order is cut into global batches of `ranks x batchPerRank` samples, and
/// each global batch into `ranks` consecutive equal parts, part r for rank r. So N ranks
/// at batch B see, step for step, exactly the samples one process sees at batch N x B
/// (and in the same order: rank r's part is positions r·B..<(r+1)·B of the global batch).
///
/// Remainder: the order is padded to a multiple of `ranks` by repeating its first
/// samples (at most ranks - 1 of them), so every rank takes the same number of steps; the
/// last global batch may be smaller than the others, split equally among the ranks.
public struct EpochPlan: Sendable {
    public let sampleCount: Int
    public let ranks: Int
    public let rank: Int
    public let batchPerRank: Int
    /// The epoch's sample order (dataset indices), padded to a multiple of `ranks`.
    public let order: [Int]

    public init(sampleCount: Int, ranks: Int, rank: Int, batchPerRank: Int, seed: UInt64, epoch: Int, shuffle: Bool = true) {
        precondition(sampleCount > 0 && ranks > 0 && rank >= 0 && rank < ranks && batchPerRank > 0)
        self.sampleCount = sampleCount
        self.ranks = ranks
        self.rank = rank
        self.batchPerRank = batchPerRank
        var order = Array(0..<sampleCount)
        if shuffle {
            var rng = CounterRandom.generator(seed: seed, .shuffle, index: UInt64(epoch))
            for i in stride(from: sampleCount - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
        }
        let padded = (sampleCount + ranks - 1) / ranks * ranks
        for i in 0..<(padded - sampleCount) { order.append(order[i % sampleCount]) }
        self.order = order
    }

    /// Samples per global step (all ranks together).
    public var globalBatch: Int { ranks * batchPerRank }

    /// Optimizer steps in the epoch (the same on every rank).
    public var steps: Int { (order.count + globalBatch - 1) / globalBatch }

    /// This rank's part of global batch `step`: the dataset indices, and the position of
    /// its first sample in the epoch order (which keys per-sample randomness such as dropout).
    public func batch(_ step: Int) -> (indices: ArraySlice<Int>, firstPosition: Int) {
        let start = step * globalBatch
        let size = min(globalBatch, order.count - start) / ranks
        let first = start + rank * size
        return (order[first..<(first + size)], first)
    }

    /// Every sample index this rank sees in the epoch.
    public var shard: [Int] { (0..<steps).flatMap { Array(batch($0).indices) } }

    /// The contiguous part of `count` evaluation samples that `rank` of `ranks` evaluates
    /// (no padding: evaluation results are summed over ranks, not averaged).
    public static func evaluationSlice(count: Int, ranks: Int, rank: Int) -> Range<Int> {
        (rank * count / ranks)..<((rank + 1) * count / ranks)
    }
}

extension SpectrogramSet {
    /// Copies the samples at `indices` into `out` (NHWC, C = 1), augmented with
    /// `augmentation` keyed by each sample's position, and their labels into `labels`.
    public func fillBatch(
        _ indices: ArraySlice<Int>, firstPosition: Int, augmentation: Augmentation, seed: UInt64, epoch: Int,
        images out: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) {
        images.withUnsafeBufferPointer { all in
            for (j, index) in indices.enumerated() {
                let src = all.baseAddress! + index * pixels, dst = out + j * pixels
                if augmentation.isIdentity {
                    dst.update(from: src, count: pixels)
                } else {
                    augmentation.apply(src, into: dst, height: height, width: width, seed: seed, epoch: epoch, sample: index)
                }
                labels[j] = self.labels[index]
            }
        }
    }
}
