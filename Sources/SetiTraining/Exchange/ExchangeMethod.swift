import SetiNet
import SwiftMPI

/// The gradient exchange algorithms, as `--exchange` names them: the one registry of
/// ``GradientReducer`` types and the only switch over them. Each reducer's file declares its
/// ``ExchangeKind`` (what `--help` and the start of a run say, which options apply, how it
/// is made), so a new algorithm is a new file and one case here.
public enum ExchangeMethod: String, Codable, Hashable, Sendable, CaseIterable {
    /// ``HierarchicalReducer``: shared memory within each machine, MPI among machines.
    case hierarchical
    /// ``HierarchicalReducer`` sending bfloat16 across machines.
    case hierarchicalBF16 = "hierarchical-bf16"
    /// ``MPIAllreduceReducer``: MPI allreduce over all ranks.
    case mpi
    /// ``PowerSGDReducer``: rank-r factors of the large matrices.
    case powersgd
    /// ``ACPSGDReducer``: ACP-SGD.
    case acpsgd

    public var kind: ExchangeKind {
        switch self {
        case .hierarchical: return HierarchicalReducer.exact
        case .hierarchicalBF16: return HierarchicalReducer.bfloat16
        case .mpi: return MPIAllreduceReducer.kind
        case .powersgd: return PowerSGDReducer.kind
        case .acpsgd: return ACPSGDReducer.kind
        }
    }

    /// The method that 0.17's two settings named (`allreduce`: hierarchical or mpi;
    /// `compression`: none, bf16, powersgd or acpsgd), as its flags, config files and
    /// checkpoints hold them; nil for a value it did not know, or for bf16 with mpi, which
    /// it refused (bf16 compressed the hierarchical exchange's cross-machine leg).
    public init?(allreduce: String, compression: String) {
        guard ["hierarchical", "mpi"].contains(allreduce) else { return nil }
        switch compression {
        case "none": self.init(rawValue: allreduce)
        case "bf16" where allreduce == "hierarchical": self = .hierarchicalBF16
        case "powersgd": self = .powersgd  // PowerSGD replaced the allreduce whatever it was
        case "acpsgd": self = .acpsgd
        default: return nil
        }
    }

    /// The method 0.17's settings name when they change this one: either may be nil (this
    /// method's own); nil as ``init(allreduce:compression:)``.
    public func changing(allreduce: String?, compression: String?) -> ExchangeMethod? {
        ExchangeMethod(allreduce: allreduce ?? legacySettings.allreduce, compression: compression ?? legacySettings.compression)
    }

    /// This method in 0.17's two settings (the inverse of ``init(allreduce:compression:)``).
    public var legacySettings: (allreduce: String, compression: String) {
        switch self {
        case .hierarchical, .mpi: return (rawValue, "none")
        case .hierarchicalBF16: return ("hierarchical", "bf16")
        case .powersgd, .acpsgd: return ("hierarchical", rawValue)
        }
    }
}

/// What one exchange method is, declared beside its reducer.
public struct ExchangeKind: Sendable {
    /// One line for `--help`.
    public let summary: String
    /// PowerSGD's family: the `--powersgd-*` settings apply, and one process compresses too
    /// (as N ranks would), so it stays the job's debug run.
    public let isLowRank: Bool
    /// The exchange in words for the start of a run on `ranks` ranks.
    let describe: @Sendable (_ config: TrainConfig, _ ranks: Int) -> String
    /// Collective over `world`: the reducer of `config`'s exchange for a model built from `spec`.
    let make: @Sendable (_ world: Communicator, _ spec: ModelSpec, _ config: TrainConfig) throws -> GradientReducer
}

extension TrainConfig {
    /// Collective over `world`: the gradient exchange this configuration names for a model
    /// built from `spec`. A single process exchanges nothing, unless the method compresses.
    func makeReducer(world: Communicator, model spec: ModelSpec) throws -> GradientReducer {
        guard world.size > 1 || exchange.kind.isLowRank else {
            return MPIAllreduceReducer(world: world, count: Network.parameterCount(of: spec), overlap: overlap)
        }
        return try exchange.kind.make(world, spec, self)
    }

    /// The gradient exchange in words, for the start of a run on `ranks` ranks: nil for one
    /// process that does not compress (nothing is exchanged).
    public func exchangeDescription(ranks: Int) -> String? {
        guard ranks > 1 || exchange.kind.isLowRank else { return nil }
        return exchange.kind.describe(self, ranks)
    }

    /// ", overlapped with backward" when it is.
    var overlapWords: String { overlap ? ", overlapped with backward" : "" }
}
