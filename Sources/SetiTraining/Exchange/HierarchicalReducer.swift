import SetiNet
import SwiftMPI

/// `--exchange hierarchical` (and `hierarchical-bf16`): ``HierarchicalAllreduce`` with a sharded update. The ranks
/// of a machine hold one parameter copy in shared memory; each sums its slices of every
/// bucket over the machine's ranks (and across machines with MPI), updates only those
/// slices, and a barrier publishes the result. No gradient or parameter is copied, and the
/// optimizer's work is split over the machine's ranks.
final class HierarchicalReducer: GradientReducer {
    static let exact = ExchangeKind(
        summary: "shared memory within a machine, MPI among machines (the exact fp32 sum)", isLowRank: false,
        describe: { config, _ in "hierarchical" + config.overlapWords },
        make: { world, spec, config in
            try HierarchicalReducer(world: world, count: Network.parameterCount(of: spec), overlap: config.overlap, crossNodeBFloat16: false)
        })
    /// Sums within a machine stay fp32; the cross-machine leg sends bfloat16 and adds in
    /// fp32: half the bytes, 8 bits of mantissa.
    static let bfloat16 = ExchangeKind(
        summary: "as hierarchical, bfloat16 across machines, fp32 within", isLowRank: false,
        describe: { config, _ in "hierarchical" + config.overlapWords + ", bfloat16 across machines" },
        make: { world, spec, config in
            try HierarchicalReducer(world: world, count: Network.parameterCount(of: spec), overlap: config.overlap, crossNodeBFloat16: true)
        })

    var parameters: UnsafeMutableBufferPointer<Float> { shared.parameters! }
    var gradients: UnsafeMutableBufferPointer<Float> { shared.buffer }
    private let shared: HierarchicalAllreduce
    private let overlap: Bool
    private var buckets: GradientBuckets

    /// Collective over `world`.
    init(world: Communicator, count: Int, overlap: Bool, crossNodeBFloat16: Bool, bucketFloats: Int = 4 << 20) throws {
        shared = try HierarchicalAllreduce(world: world, count: count, shareParameters: true, crossNodeBFloat16: crossNodeBFloat16)
        self.overlap = overlap
        buckets = GradientBuckets(minimumFloats: bucketFloats)
    }

    func gradientsReady(_ range: Range<Int>) throws {
        guard overlap else { return }
        if let bucket = buckets.add(range) { try shared.reduce(bucket) }
        try shared.progress()
    }

    func applyUpdate(_ update: (GradientSource) -> Void) throws {
        if overlap {
            if let rest = buckets.takeRest() { try shared.reduce(rest) }
        } else {
            try shared.reduce(0..<gradients.count)
        }
        update(GradientSource(ranges: try shared.finishOwned()))
        try shared.shareParameters()
    }

    func parametersWritten() throws {
        try shared.shareParameters()
    }

    func completeState(of optimizer: Optimizer) throws {
        for slot in optimizer.slots { try shared.gatherOwned(slot.values) }
    }
}
