import Foundation

/// Calls `poll` every 200 microseconds on its own thread until stopped or until `poll`
/// throws. OpenMPI moves a non-blocking collective's data only inside MPI calls; while
/// the caller computes and makes none, this thread keeps the transfer going (it needs
/// ``MPI/ThreadLevel/multiple``). Sleeping between polls keeps it from taking a core
/// from the computation.
///
/// Sendable by construction: its mutable state is touched only under `lock`.
public final class ProgressThread: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var error: Error?
    private let finished = DispatchSemaphore(value: 0)

    public init(poll: @escaping @Sendable () throws -> Void) {
        let thread = Thread { [self] in
            while true {
                lock.lock()
                let stop = stopping
                lock.unlock()
                if stop { break }
                do { try poll() } catch {
                    lock.lock(); self.error = error; lock.unlock()
                    break
                }
                usleep(200)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops the thread, waits for it to end and returns the error that ended it, if any.
    public func stop() -> Error? {
        lock.lock(); stopping = true; lock.unlock()
        finished.wait()
        lock.lock(); defer { lock.unlock() }
        return error
    }
}

/// Non-blocking requests that a ``ProgressThread`` tests while their owner computes: a
/// list shared by two threads, so every access holds the lock.
public final class SharedRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [AllreduceRequest] = []

    public init() {}

    public func append(_ request: AllreduceRequest) {
        lock.withLock { requests.append(request) }
    }

    /// Lets MPI progress every request (from the progress thread or the owner).
    public func testAll() throws {
        try lock.withLock { for request in requests { try request.test() } }
    }

    /// Waits for every request and forgets them.
    public func waitAll() throws {
        try lock.withLock {
            for request in requests { try request.wait() }
            requests.removeAll()
        }
    }
}
