import Dispatch

/// Work splitting for the loops that are not GEMMs (im2col, batch norm, pooling, Adam...)
/// and for the convolutions. They use as many threads as BLAS does, so a rank never
/// takes more cores than its launcher gave it.
///
/// The one place where the engine's flat buffers are shared between threads, and so the
/// one place where Swift 6's checks are told (with `nonisolated(unsafe)`) what they cannot
/// see: every body writes only the elements of its own range (callers split outputs, never
/// share them), and `concurrentPerform` returns only when all bodies have finished.
public enum Parallel {
    /// Calls `body` on disjoint consecutive sub-ranges covering 0..<count, in parallel
    /// when BLAS has several threads and the work is large enough to pay for it.
    public static func forEachRange(_ count: Int, minimumPerThread: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let threads = min(BLAS.threads, max(1, count / max(1, minimumPerThread)))
        guard threads > 1 else {
            body(0..<count)
            return
        }
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            body((t * count / threads)..<((t + 1) * count / threads))
        }
    }

    /// Splits 0..<count into one non-empty range per worker (at most one worker per BLAS
    /// thread) and runs `body(worker, range)` for each, concurrently. While the workers
    /// run, BLAS is single-threaded, so each worker's GEMMs stay on its own core.
    /// `reserving` is called first with the worker count, to size per-worker scratch.
    /// Returns the worker count.
    @discardableResult
    static func forEachWorker(
        _ count: Int, reserving: (Int) -> Void = { _ in }, _ body: (_ worker: Int, Range<Int>) -> Void
    ) -> Int {
        let threads = BLAS.threads
        let workers = max(1, min(threads, count))
        reserving(workers)
        guard workers > 1 else {
            body(0, 0..<count)
            return 1
        }
        BLAS.threads = 1
        defer { BLAS.threads = threads }
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            body(w, (w * count / workers)..<((w + 1) * count / workers))
        }
        return workers
    }
}
