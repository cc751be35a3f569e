import SetiNet
import SwiftMPI

/// How gradients are summed over ranks.
public enum AllreduceMethod: String, Codable, Hashable, Sendable, CaseIterable {
    /// ``HierarchicalAllreduce``: shared memory within each machine, MPI among machines.
    case hierarchical
    /// One MPI allreduce over all ranks (OpenMPI picks the algorithm).
    case mpi
}

/// Sums the flat gradient buffer over ranks. With overlap on, backward hands over each
/// layer's gradient range as soon as it is final (last layer first); ranges are grouped
/// into buckets of at least `bucketFloats` and each bucket's reduction starts at once, so
/// the exchange of the 134 MB dense gradient runs while the convolutions' backward
/// computes. `finish()` completes the rest.
///
/// The loss gradient is already scaled by 1 / (global batch), so the sum over ranks is
/// the gradient of the global mean loss: no division is needed here.
///
/// With the hierarchical method the ranks of a node also split the optimizer's work: each
/// updates only the parameter slices whose summed gradient it owns, then they share the
/// results through shared memory (see ``HierarchicalAllreduce``). Per step:
/// `ready` during backward, `finishForUpdate`, the optimizer on the returned ranges,
/// `afterUpdate`.
final class GradientExchange {
    /// Where backward must write the gradients.
    let gradients: UnsafeMutableBufferPointer<Float>
    /// Where the network's parameters must live (one buffer in shared memory for the ranks
    /// of a node), or nil for anywhere.
    var parameters: UnsafeMutableBufferPointer<Float>? { hierarchical?.parameters }
    private let world: Communicator
    private let overlap: Bool
    private let bucketFloats: Int
    private let hierarchical: HierarchicalAllreduce?
    private var pending: [AllreduceRequest] = []
    private var bucketStart: Int?
    private var bucketEnd = 0

    /// Collective: allocates the gradient buffer (`count` floats), in shared memory for
    /// the hierarchical method.
    init(world: Communicator, count: Int, method: AllreduceMethod, overlap: Bool, bucketFloats: Int = 4 << 20) throws {
        self.world = world
        self.overlap = overlap
        self.bucketFloats = bucketFloats
        if method == .hierarchical && world.size > 1 {
            let shared = try HierarchicalAllreduce(world: world, count: count, shareParameters: true)
            hierarchical = shared
            gradients = shared.buffer
        } else {
            hierarchical = nil
            gradients = .allocate(capacity: count)
            gradients.initialize(repeating: 0)
        }
    }

    deinit {
        if hierarchical == nil { gradients.deallocate() }
    }

    /// Called by backward with each finished range; ranges arrive in descending order.
    func ready(_ range: Range<Int>) throws {
        guard overlap, world.size > 1 else { return }
        if bucketStart == nil { bucketEnd = range.upperBound }
        bucketStart = range.lowerBound
        if bucketEnd - range.lowerBound >= bucketFloats || range.lowerBound == 0 { try flush() }
        try progress()
    }

    /// Exchanges whatever is left and returns the ranges of the gradient that hold the sum
    /// and that this rank must apply: everything, or with the hierarchical method this
    /// rank's own slices.
    func finishForUpdate() throws -> [Range<Int>] {
        let everything = [0..<gradients.count]
        guard world.size > 1 else { return everything }
        if overlap {
            try flush()
        } else if let hierarchical {
            try hierarchical.reduce(0..<gradients.count)
        } else {
            try world.allreduce(gradients, op: .sum)
        }
        for request in pending { try request.wait() }
        pending.removeAll()
        return try hierarchical?.finishOwned() ?? everything
    }

    /// After the optimizer updated the ranges `finishForUpdate` returned: returns when
    /// every rank can read the parameters the others updated.
    func afterUpdate() throws {
        try hierarchical?.shareParameters()
    }

    /// Makes every rank's copy of the optimizer's state whole (each rank keeps only its
    /// own slices current), before a checkpoint saves it.
    func completeState(of optimizer: Optimizer) throws {
        guard let hierarchical else { return }
        for slot in optimizer.slots { try hierarchical.gatherOwned(slot.values) }
    }

    /// Lets MPI advance the reductions in flight (OpenMPI progresses them inside MPI calls).
    private func progress() throws {
        for request in pending { try request.test() }
        try hierarchical?.progress()
    }

    private func flush() throws {
        guard let start = bucketStart, start < bucketEnd else { return }
        if let hierarchical {
            try hierarchical.reduce(start..<bucketEnd)
        } else {
            pending.append(try world.startAllreduce(UnsafeMutableBufferPointer(rebasing: gradients[start..<bucketEnd]), op: .sum))
        }
        bucketStart = nil
    }
}
