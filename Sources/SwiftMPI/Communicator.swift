import CMPI

/// A group of MPI ranks that talk to each other: the world, or a subset of it such as
/// the ranks sharing one machine.
///
/// A value type over an MPI handle: copying it does not duplicate the communicator.
///
/// Sendable although `MPI_Comm` is an opaque C pointer: the handle is never mutated after
/// creation, and which threads may call MPI on it is MPI's thread level, which
/// ``MPI/initialize(threadLevel:minimum:)`` negotiates and checks (the progress thread
/// of the hierarchical exchange runs only under `MPI_THREAD_MULTIPLE`).
public struct Communicator: @unchecked Sendable {
    let handle: MPI_Comm
    /// This process's index in the group, `0 ..< size`.
    public let rank: Int
    /// How many ranks the group has.
    public let size: Int

    /// Buffers longer than this are exchanged in several MPI calls, because MPI counts
    /// are `Int32`. Lowering it (tests do) exercises the chunked path with small buffers.
    public var maxElementsPerCall: Int = Int(Int32.max)

    init(handle: MPI_Comm) throws {
        self.handle = handle
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// True on rank 0, the rank that logs, validates and writes checkpoints.
    public var isRoot: Bool { rank == 0 }

    /// The name of the machine this rank runs on, as MPI reports it.
    public var hostName: String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_processor_name()) + 1)
        var length: Int32 = 0
        guard MPI_Get_processor_name(&buffer, &length) == MPI_SUCCESS else { return "unknown-host" }
        return String(decoding: buffer[..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Blocks until every rank of the group has called it.
    public func barrier() throws {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// The ranks of this group that share this rank's machine (shared memory), ordered as
    /// in this group. Its `rank` is this process's local rank and its `size` the number
    /// of ranks on the node, which is what sizes the BLAS thread pool.
    public func splitByNode() throws -> Communicator {
        var node: MPI_Comm? = cmpi_comm_null()
        try check(
            MPI_Comm_split_type(handle, Int32(MPI_COMM_TYPE_SHARED), Int32(rank), cmpi_info_null(), &node),
            "MPI_Comm_split_type")
        return try subgroup(node)
    }

    /// Splits the group: ranks passing the same `color` form a new group, ordered by `key`.
    public func split(color: Int, key: Int) throws -> Communicator {
        var part: MPI_Comm? = cmpi_comm_null()
        try check(MPI_Comm_split(handle, Int32(color), Int32(key), &part), "MPI_Comm_split")
        return try subgroup(part)
    }

    /// A communicator split from this one, returning errors as this one does and
    /// chunking buffers alike.
    private func subgroup(_ part: MPI_Comm?) throws -> Communicator {
        try check(MPI_Comm_set_errhandler(part, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        var group = try Communicator(handle: part!)
        group.maxElementsPerCall = maxElementsPerCall
        return group
    }

    /// Times `iterations` in-place sum-allreduces of `buffer` made by a plain C loop (no
    /// Swift in between): the baseline for benchmarking this wrapper. Seconds per call.
    public func timePlainCAllreduce(_ buffer: UnsafeMutableBufferPointer<Float>, iterations: Int) -> [Double] {
        var seconds = [Double](repeating: 0, count: iterations)
        cmpi_time_allreduce_loop(handle, buffer.baseAddress, Int32(buffer.count), Int32(iterations), &seconds)
        return seconds
    }
}
