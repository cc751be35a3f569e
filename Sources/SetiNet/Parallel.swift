import Dispatch

/// Work splitting for the loops that are not GEMMs (im2col, batch norm, pooling, Adam...).
/// They use as many threads as BLAS does, so a rank never takes more cores than its
/// launcher gave it.
enum Parallel {
    /// Calls `body` on disjoint consecutive sub-ranges covering 0..<count, in parallel
    /// when BLAS has several threads and the work is large enough to pay for it.
    static func forEachRange(_ count: Int, minimumPerThread: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let threads = min(BLAS.threads, max(1, count / max(1, minimumPerThread)))
        guard threads > 1 else {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            body((t * count / threads)..<((t + 1) * count / threads))
        }
    }
}
