import CMPI

/// An MPI-3 shared-memory window over the ranks of one machine
/// (`MPI_Win_allocate_shared`): each local rank owns a segment of `count` floats and can
/// read and write every other rank's segment directly, as ordinary memory. With
/// `ownerOnly`, there is one segment (local rank 0's) that all of them share.
///
/// Ordering between ranks is the caller's: write, ``barrier()``, then read what others
/// wrote.
public final class SharedMemoryWindow {
    /// The ranks that share the window (all on one machine).
    public let node: Communicator
    /// Every local rank's segment, indexed by local rank (one entry with `ownerOnly`).
    public let segments: [UnsafeMutablePointer<Float>]
    /// This rank's segment (the shared one with `ownerOnly`), zeroed at creation.
    public let mine: UnsafeMutableBufferPointer<Float>
    private var window: MPI_Win?

    /// Collective over `node`, whose ranks must all be on this machine.
    public init(node: Communicator, count: Int, ownerOnly: Bool = false) throws {
        self.node = node
        var info: MPI_Info? = nil
        try check(MPI_Info_create(&info), "MPI_Info_create")
        // Each segment on its owner's NUMA node rather than one contiguous block.
        _ = MPI_Info_set(info, "alloc_shared_noncontig", "true")
        var base: UnsafeMutableRawPointer? = nil
        let status = MPI_Win_allocate_shared(
            MPI_Aint(ownerOnly && node.rank > 0 ? 0 : max(count, 1) * MemoryLayout<Float>.stride),
            Int32(MemoryLayout<Float>.stride), info, node.handle,
            &base, &window)
        _ = MPI_Info_free(&info)
        try check(status, "MPI_Win_allocate_shared")
        try check(MPI_Win_lock_all(Int32(MPI_MODE_NOCHECK), window), "MPI_Win_lock_all")
        var segments: [UnsafeMutablePointer<Float>] = []
        for r in 0..<(ownerOnly ? 1 : node.size) {
            var size: MPI_Aint = 0, unit: Int32 = 0
            var pointer: UnsafeMutableRawPointer? = nil
            try check(MPI_Win_shared_query(window, Int32(r), &size, &unit, &pointer), "MPI_Win_shared_query")
            guard let pointer else { throw MPIError(call: "MPI_Win_shared_query", code: -1, message: "no segment for local rank \(r)") }
            segments.append(pointer.assumingMemoryBound(to: Float.self))
        }
        self.segments = segments
        mine = UnsafeMutableBufferPointer(start: segments[ownerOnly ? 0 : node.rank], count: count)
        if !ownerOnly || node.rank == 0 { mine.initialize(repeating: 0) }
    }

    deinit {
        guard window != nil, !MPI.isFinalized else { return }
        MPI_Win_unlock_all(window)
        MPI_Win_free(&window)
    }

    /// A barrier that also orders memory: writes before it are visible to reads after it
    /// on every local rank (the MPI-3 shared-memory idiom: sync, barrier, sync).
    public func barrier() throws {
        try check(MPI_Win_sync(window), "MPI_Win_sync")
        try node.barrier()
        try check(MPI_Win_sync(window), "MPI_Win_sync")
    }
}
