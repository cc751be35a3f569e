import CKernels
import SetiNet
import SwiftMPI

/// `--exchange powersgd`: PowerSGD (Vogels, Karimireddy and Jaggi 2019, the algorithm of
/// PyTorch DDP's `powerSGD_hook`), one power iteration per step, warm-started from the
/// previous step's Q:
///
///     P = sum over ranks of M Q     (rows x r), then orthonormalized
///     Q = sum over ranks of M^T P   (columns x r)
///     G = P Q^T
///
/// (M, E and what the factors share with ACP-SGD: ``LowRankReducer``.) For the classic
/// model's 32768 x 1024 dense kernel at rank 4 that is 0.5 MB per step instead of 134 MB.
///
/// P comes from backward's fold, so the first pass over M is backward's own, and with
/// overlap it goes out while the convolutions' backward computes. Q needs the summed P, so
/// its pass over M and its sum come after backward.
final class PowerSGDReducer: LowRankReducer {
    static let kind = registration(
        name: "PowerSGD", summary: "rank-r factors of the large matrices with error feedback (--powersgd-rank), small tensors exact")

    /// P summed: orthonormalize it, then Q = M^T P, summed.
    override func completeFactors() throws {
        for m in matrices {
            let pm = p.baseAddress! + m.pOffset
            orthonormalizeColumns(pm, rows: m.rows, columns: rank)
            multiplyTransposed(errors.baseAddress! + m.errorOffset, m, by: pm, into: q.baseAddress! + m.qOffset)
        }
        if world.size > 1 { try world.allreduce(q, op: .sum) }
        transposeQ()
    }

    /// Q = M^T P (columns x rank), M rows x columns: rows split over the threads, each
    /// summing its own Q^T, the partial sums added in thread order.
    private func multiplyTransposed(_ matrix: UnsafePointer<Float>, _ m: Matrix, by pm: UnsafePointer<Float>, into qm: UnsafeMutablePointer<Float>) {
        let threads = max(1, min(BLAS.threads, m.rows / 64)), stride = Self.qtStride(columns: m.columns)
        var partials = [Float](repeating: 0, count: threads * rank * stride)
        partials.withUnsafeMutableBufferPointer { partials in
            let base = partials.baseAddress!
            Parallel.forEachRange(threads, minimumPerThread: 1) { workers in
                for w in workers {
                    let first = w * m.rows / threads, end = (w + 1) * m.rows / threads
                    seti_powersgd_project(matrix + first * m.columns, pm + first * rank, base + w * rank * stride, stride,
                                          end - first, m.columns, Int32(rank))
                }
            }
            for j in 0..<m.columns {
                for c in 0..<rank {
                    var sum: Float = 0
                    for w in 0..<threads { sum += base[(w * rank + c) * stride + j] }
                    qm[j * rank + c] = sum
                }
            }
        }
    }
}
