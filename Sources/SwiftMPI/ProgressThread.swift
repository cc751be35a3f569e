import Foundation

/// Calls `poll` every 200 microseconds on its own thread until stopped or until `poll`
/// throws. OpenMPI moves a non-blocking collective's data only inside MPI calls; while
/// the caller computes and makes none, this thread keeps the transfer going (it needs
/// ``MPI/ThreadLevel/multiple``). Sleeping between polls keeps it from taking a core
/// from the computation.
public final class ProgressThread {
    private let lock = NSLock()
    private var stopping = false
    private var error: Error?
    private let finished = DispatchSemaphore(value: 0)

    public init(poll: @escaping () throws -> Void) {
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
