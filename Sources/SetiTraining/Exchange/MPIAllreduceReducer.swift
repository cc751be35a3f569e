import SetiNet
import SwiftMPI

/// `--exchange mpi`: the gradients summed by MPI allreduce over all ranks. With overlap,
/// each bucket's non-blocking allreduce starts as soon as backward has finished its layers
/// (the 134 MB dense gradient first) and runs while the convolutions' backward computes;
/// without, one blocking allreduce after backward. Every rank then applies the whole update.
final class MPIAllreduceReducer: GradientReducer {
    static let kind = ExchangeKind(
        summary: "MPI allreduce over all ranks, in non-blocking buckets when overlapped (OpenMPI picks the algorithm)", isLowRank: false,
        describe: { config, _ in "mpi" + config.overlapWords },
        make: { world, spec, config in MPIAllreduceReducer(world: world, count: Network.parameterCount(of: spec), overlap: config.overlap) })

    let parameters: UnsafeMutableBufferPointer<Float>
    let gradients: UnsafeMutableBufferPointer<Float>
    private let world: Communicator
    private let overlap: Bool
    private var buckets: GradientBuckets
    private var pending: [AllreduceRequest] = []

    init(world: Communicator, count: Int, overlap: Bool, bucketFloats: Int = 4 << 20) {
        self.world = world
        self.overlap = overlap
        buckets = GradientBuckets(minimumFloats: bucketFloats)
        parameters = .allocateAligned(zeroed: count)
        gradients = .allocateAligned(zeroed: count)
    }

    deinit {
        // An unfinished request must complete before its buffer goes.
        for request in pending { try? request.wait() }
        parameters.deallocate()
        gradients.deallocate()
    }

    func gradientsReady(_ range: Range<Int>) throws {
        guard overlap, world.size > 1 else { return }
        if let bucket = buckets.add(range) { try start(bucket) }
        // OpenMPI progresses non-blocking collectives inside MPI calls.
        for request in pending { try request.test() }
    }

    func applyUpdate(_ update: (GradientSource) -> Void) throws {
        if world.size > 1 {
            if overlap {
                if let rest = buckets.takeRest() { try start(rest) }
                for request in pending { try request.wait() }
                pending.removeAll()
            } else {
                try world.allreduce(gradients, op: .sum)
            }
        }
        update(GradientSource(ranges: [0..<gradients.count]))
    }

    func parametersWritten() throws {}

    func completeState(of optimizer: Optimizer) throws {}

    private func start(_ bucket: Range<Int>) throws {
        pending.append(try world.startAllreduce(UnsafeMutableBufferPointer(rebasing: gradients[bucket]), op: .sum))
    }
}
