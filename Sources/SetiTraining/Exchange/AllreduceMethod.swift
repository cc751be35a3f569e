import SetiNet
import SwiftMPI

/// The gradient exchange algorithms, as `--allreduce` names them: the registry of
/// ``GradientReducer`` implementations. A new algorithm is a new file with its reducer
/// and one case here.
public enum AllreduceMethod: String, Codable, Hashable, Sendable, CaseIterable {
    /// ``HierarchicalReducer``: shared memory within each machine, MPI among machines, the
    /// optimizer's work split over the ranks of a machine.
    case hierarchical
    /// ``MPIAllreduceReducer``: MPI allreduce over all ranks (bucketed and non-blocking when
    /// overlapped with backward; OpenMPI picks the algorithm).
    case mpi

    /// One line for `--help`.
    public var summary: String {
        switch self {
        case .hierarchical: return "shared memory within a machine, MPI among machines"
        case .mpi: return "MPI allreduce over all ranks, in non-blocking buckets when overlapped"
        }
    }

    /// Collective over `world`: the reducer for `count` parameters. A single process
    /// needs no exchange, whatever the method. `crossNodeBFloat16`: hierarchical's
    /// cross-machine leg in bfloat16.
    func makeReducer(world: Communicator, count: Int, overlap: Bool, crossNodeBFloat16: Bool) throws -> GradientReducer {
        guard world.size > 1 else { return MPIAllreduceReducer(world: world, count: count, overlap: overlap) }
        switch self {
        case .hierarchical: return try HierarchicalReducer(world: world, count: count, overlap: overlap, crossNodeBFloat16: crossNodeBFloat16)
        case .mpi: return MPIAllreduceReducer(world: world, count: count, overlap: overlap)
        }
    }
}

extension TrainConfig {
    /// Collective over `world`: the gradient exchange this configuration names for a model
    /// built from `spec` (``allreduce`` and ``compression``).
    func makeReducer(world: Communicator, model spec: ModelSpec) throws -> GradientReducer {
        let count = Network.parameterCount(of: spec)
        if compression.isLowRank {
            return PowerSGDReducer(world: world, tensors: Network.tensors(of: spec), count: count, rank: powerSGDRank, startStep: powerSGDStartStep,
                                   seed: seed, overlap: overlap, alternating: compression == .acpsgd)
        }
        return try allreduce.makeReducer(world: world, count: count, overlap: overlap, crossNodeBFloat16: compression == .bf16)
    }
}
