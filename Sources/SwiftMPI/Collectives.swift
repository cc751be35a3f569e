import CMPI

extension Communicator {
    // MARK: Broadcast

    /// Replaces `buffer` on every rank with its contents on `root`.
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        try forEachChunk(buffer.count) { offset, count in
            try check(
                MPI_Bcast(buffer.baseAddress.map { $0 + offset }, count, T.mpiDatatype, Int32(root), handle),
                "MPI_Bcast")
        }
    }

    /// Replaces `array` on every rank with its contents on `root`. All ranks must pass
    /// arrays of the same length.
    public func broadcast<T: MPIScalar>(_ array: inout [T], root: Int) throws {
        try array.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Returns `root`'s `value` on every rank.
    public func broadcast<T: MPIScalar>(_ value: T, root: Int) throws -> T {
        var array = [value]
        try broadcast(&array, root: root)
        return array[0]
    }

    // MARK: Allreduce

    /// Reduces `buffer` element-wise across ranks, in place: afterwards every rank holds
    /// the sum (or min, or max) of all ranks' buffers.
    public func allreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReductionOp) throws {
        try forEachChunk(buffer.count) { offset, count in
            try check(
                MPI_Allreduce(cmpi_in_place(), buffer.baseAddress.map { $0 + offset }, count, T.mpiDatatype, op.handle, handle),
                "MPI_Allreduce")
        }
    }

    /// Reduces `source` element-wise across ranks into `destination`, which must have
    /// the same length; `source` is left untouched.
    public func allreduce<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, op: ReductionOp
    ) throws {
        precondition(source.count == destination.count, "allreduce: source and destination lengths differ")
        try forEachChunk(source.count) { offset, count in
            try check(
                MPI_Allreduce(
                    source.baseAddress.map { $0 + offset }, destination.baseAddress.map { $0 + offset }, count,
                    T.mpiDatatype, op.handle, handle),
                "MPI_Allreduce")
        }
    }

    /// In-place allreduce of a whole array.
    public func allreduce<T: MPIScalar>(_ array: inout [T], op: ReductionOp) throws {
        try array.withUnsafeMutableBufferPointer { try allreduce($0, op: op) }
    }

    /// The reduction of one value from every rank.
    public func allreduce<T: MPIScalar>(_ value: T, op: ReductionOp) throws -> T {
        var array = [value]
        try allreduce(&array, op: op)
        return array[0]
    }

    /// Reduces `buffer` element-wise across ranks into `root`'s `buffer`; the other ranks'
    /// buffers are left as they were.
    public func reduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReductionOp, root: Int) throws {
        try forEachChunk(buffer.count) { offset, count in
            let data = buffer.baseAddress.map { $0 + offset }
            try check(
                MPI_Reduce(rank == root ? UnsafeRawPointer(cmpi_in_place()) : UnsafeRawPointer(data), data, count, T.mpiDatatype, op.handle, Int32(root), handle),
                "MPI_Reduce")
        }
    }

    /// Starts an in-place allreduce and returns at once. The buffer must stay alive and
    /// untouched until the returned request completes; call ``AllreduceRequest/test()``
    /// now and then (OpenMPI progresses non-blocking collectives inside MPI calls) and
    /// ``AllreduceRequest/wait()`` before reading the result.
    public func startAllreduce<T: MPIScalar>(
        _ buffer: UnsafeMutableBufferPointer<T>, op: ReductionOp
    ) throws -> AllreduceRequest {
        var requests: [MPI_Request?] = []
        do {
            try forEachChunk(buffer.count) { offset, count in
                var request: MPI_Request? = cmpi_request_null()
                try check(
                    MPI_Iallreduce(
                        cmpi_in_place(), buffer.baseAddress.map { $0 + offset }, count, T.mpiDatatype, op.handle, handle,
                        &request),
                    "MPI_Iallreduce")
                requests.append(request)
            }
        } catch {
            // Chunks already started still reference the buffer: finish them first.
            _ = MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore())
            throw error
        }
        return AllreduceRequest(requests)
    }

    // MARK: Gather and agreement

    /// Collects one value from every rank on every rank, indexed by rank.
    public func allgather<T: MPIScalar>(_ value: T) throws -> [T] {
        var all = [T](repeating: .zero, count: size)
        try withUnsafePointer(to: value) { mine in
            try all.withUnsafeMutableBufferPointer { all in
                try check(
                    MPI_Allgather(mine, 1, T.mpiDatatype, all.baseAddress, 1, T.mpiDatatype, handle), "MPI_Allgather")
            }
        }
        return all
    }

    /// Collects one value from every rank on `root`, indexed by rank; other ranks get nil.
    public func gather<T: MPIScalar>(_ value: T, root: Int = 0) throws -> [T]? {
        var all = [T](repeating: .zero, count: rank == root ? size : 0)
        try withUnsafePointer(to: value) { mine in
            try all.withUnsafeMutableBufferPointer { all in
                try check(
                    MPI_Gather(mine, 1, T.mpiDatatype, all.baseAddress, 1, T.mpiDatatype, Int32(root), handle),
                    "MPI_Gather")
            }
        }
        return rank == root ? all : nil
    }

    /// Checks that every rank passes the same value (a configuration or model hash).
    ///
    /// - Throws: ``RankDisagreement`` on *every* rank when any rank differs, naming the
    ///   ranks whose value is not the majority's, so the job can stop cleanly.
    public func agree(on value: UInt64, what: String) throws {
        let values = try allgather(value)
        guard Set(values).count > 1 else { return }
        var counts: [UInt64: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        // The majority value; on a tie, the value of the lowest rank holding a top count.
        let top = counts.values.max()!
        let majority = values.first { counts[$0] == top }!
        let differing = values.indices.filter { values[$0] != majority }
        throw RankDisagreement(what: what, differingRanks: differing, values: values, majority: majority)
    }

    /// Runs `body` on `root` only and makes its outcome everyone's: returns normally on
    /// every rank when it succeeded, and throws ``RootFailure`` with its error's text on
    /// every rank when it failed. For work one rank does for all (checking and locking an
    /// output folder) whose failure must end the job once, cleanly.
    public func onRoot(_ root: Int = 0, _ body: () throws -> Void) throws {
        var message: [UInt8] = []
        if rank == root {
            do { try body() } catch { message = Array("\(error)".utf8) }
        }
        var length = try broadcast(Int64(message.count), root: root)
        guard length > 0 else { return }
        length = Swift.min(length, 1 << 20)
        if rank != root { message = [UInt8](repeating: 0, count: Int(length)) }
        try broadcast(&message, root: root)
        throw RootFailure(description: String(decoding: message, as: UTF8.self))
    }

    /// Runs `body` on every rank, then makes any rank's failure everyone's: when some rank
    /// threw, every rank throws ``RootFailure`` with the text of the lowest failing rank's
    /// error (prefixed with its rank when not all ranks failed). Wrap the local work that
    /// can fail (reading files) between two collectives, so that a rank that failed alone
    /// never leaves the others waiting in the next collective.
    public func together<T>(_ body: () throws -> T) throws -> T {
        var result: Result<T, Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        let failed = try allgather(Int32(result.isFailure ? 1 : 0))
        guard let first = failed.firstIndex(of: 1) else { return try result.get() }
        var message = rank == first ? Array("\(result.failureDescription)".utf8) : []
        let length = try broadcast(Int64(Swift.min(message.count, 1 << 20)), root: first)
        if rank != first { message = [UInt8](repeating: 0, count: Int(length)) } else { message = Array(message.prefix(Int(length))) }
        try broadcast(&message, root: first)
        let text = String(decoding: message, as: UTF8.self)
        throw RootFailure(description: failed.allSatisfy { $0 == 1 } ? text : "rank \(first): \(text)")
    }

    // MARK: Chunking

    /// Splits `count` elements into MPI-sized calls: `body(offset, chunkCount)`.
    private func forEachChunk(_ count: Int, _ body: (Int, Int32) throws -> Void) throws {
        let limit = Swift.max(1, Swift.min(maxElementsPerCall, Int(Int32.max)))
        if count == 0 {
            // Collectives must still be entered by every rank, even with nothing to move.
            try body(0, 0)
            return
        }
        var offset = 0
        while offset < count {
            let n = Swift.min(limit, count - offset)
            try body(offset, Int32(n))
            offset += n
        }
    }
}

private extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
    var failureDescription: String { if case .failure(let error) = self { return "\(error)" } else { return "" } }
}
