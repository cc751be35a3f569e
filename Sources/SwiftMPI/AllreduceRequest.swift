import CMPI

/// An allreduce in flight, started by ``Communicator/startAllreduce(_:op:)``.
///
/// Long buffers are several MPI requests under the hood; the request is complete when
/// all of them are.
public final class AllreduceRequest {
    private var requests: [MPI_Request?]
    public private(set) var isComplete = false

    init(_ requests: [MPI_Request?]) {
        self.requests = requests
        isComplete = requests.isEmpty
    }

    /// Lets MPI make progress and reports whether the whole reduction has finished.
    @discardableResult
    public func test() throws -> Bool {
        guard !isComplete else { return true }
        var flag: Int32 = 0
        try check(MPI_Testall(Int32(requests.count), &requests, &flag, cmpi_statuses_ignore()), "MPI_Testall")
        isComplete = flag != 0
        return isComplete
    }

    /// Blocks until the whole reduction has finished; the buffer then holds the result.
    public func wait() throws {
        guard !isComplete else { return }
        try check(MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore()), "MPI_Waitall")
        isComplete = true
    }

    deinit {
        // Dropping an unfinished request would let MPI write into freed memory later.
        if !isComplete { _ = MPI_Waitall(Int32(requests.count), &requests, cmpi_statuses_ignore()) }
    }
}
