import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, seen from Swift: the GEMM every hot path lowers onto, and the size of its
/// thread pool.
public enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C` on row-major matrices, where op(A) is
    /// M x K, op(B) is K x N and C is M x N. Leading dimensions are the row strides as
    /// stored (before transposition).
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// The number of threads OpenBLAS uses for the next call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The kernel family OpenBLAS picked for this CPU at load (e.g. "Haswell", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The thread count for one rank: `OPENBLAS_NUM_THREADS` if the launcher set it,
    /// otherwise the CPUs the rank may run on, divided among the `sharers` ranks of its
    /// machine that may run on the same CPUs (at least 1), so ranks never fight over cores
    /// and a rank bound to k cores uses k threads.
    public static func threadsPerRank(allowance: CPUAllowance, sharers: Int, environment: [String: String]) -> Int {
        if let value = environment["OPENBLAS_NUM_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, allowance.count / max(1, sharers))
    }
}
