import CKernels

/// The one place an exchange may consume a gradient inside backward (as a PyTorch DDP
/// communication hook consumes a bucket, but earlier: before the gradient is stored).
///
/// A low-rank exchange with error feedback (SetiTraining's Exchange/LowRank: PowerSGD and
/// ACP-SGD) keeps a running matrix M per large weight matrix and needs one new factor of it
/// per step. Handed a fold by ``Network/backward(batch:folds:gradientsReady:)``, the dense
/// layer sends its kernel gradient G into M, as M = (M - share * P Q^T) + G, then makes the
/// factor: the left one, P = M Q, or the right one, Q^T = P^T M (see powersgd_passes.h).
/// With AVX-512 (and a rank up to SETI_DENSE_FOLD_MAX_RANK) this happens inside the pass
/// that computes G (dense_fold_tiles.h), so G never goes to memory and the exchange needs
/// no pass of its own over the matrix; elsewhere G is made in the gradient buffer and
/// folded after, with the same M to the bit.
public final class KernelGradientFold {
    /// M, inputs x outputs.
    public let matrix: UnsafeMutablePointer<Float>
    /// P, inputs x rank: the last step's, overwritten with the new one when the fold makes
    /// the left factor; read only when it makes the right one.
    public let projection: UnsafeMutablePointer<Float>
    /// Q^T, rank x outputs, its rows `qtStride` floats apart.
    public let qt: UnsafePointer<Float>
    public let qtStride: Int
    public let rank: Int
    /// Of the last step's P Q^T, what M still owes (0: nothing).
    public let share: Float
    /// nil: the fold makes the left factor. Otherwise it makes the right one: the rows of M
    /// in block b (``rowsPerSum`` rows each) add their P^T M to the Q^T at
    /// `rightSums + b * rank * qtStride` (zeroed by the caller), so that Q^T is summed in
    /// the same order whatever the threads; the caller adds the blocks' Q^T in order.
    public let rightSums: UnsafeMutablePointer<Float>?
    /// Set by backward once the gradient went into M; a fold offered for a tensor that is
    /// not a dense layer's kernel stays unapplied, and that gradient goes to the buffer.
    public internal(set) var applied = false

    /// Rows of M per block of the fold's work: per partial Q^T when it makes the right factor.
    public static let rowsPerSum = 512

    /// The blocks of ``rowsPerSum`` rows of a matrix with `rows` rows.
    public static func sums(rows: Int) -> Int { (rows + rowsPerSum - 1) / rowsPerSum }

    public init(
        matrix: UnsafeMutablePointer<Float>, projection: UnsafeMutablePointer<Float>, qt: UnsafePointer<Float>,
        qtStride: Int, rank: Int, share: Float, rightSums: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(rank >= 1 && qtStride >= 0)
        self.matrix = matrix
        self.projection = projection
        self.qt = qt
        self.qtStride = qtStride
        self.rank = rank
        self.share = share
        self.rightSums = rightSums
    }

    /// Block `b`'s rows of a matrix with `rows` rows, and where their part of Q^T goes.
    func block(_ b: Int, rows: Int) -> (rows: Range<Int>, sum: UnsafeMutablePointer<Float>?) {
        let first = b * Self.rowsPerSum
        return (first..<min(rows, first + Self.rowsPerSum), rightSums.map { $0 + b * rank * qtStride })
    }

    /// The fold of a gradient already in memory (rows x columns, the matrix's shape), by
    /// blocks of rows on the worker threads.
    public func apply(gradient: UnsafePointer<Float>, rows: Int, columns: Int) {
        Parallel.forEachRange(Self.sums(rows: rows), minimumPerThread: 1) { blocks in
            for b in blocks {
                let (r, sum) = block(b, rows: rows)
                seti_powersgd_fold(
                    matrix + r.lowerBound * columns, gradient + r.lowerBound * columns, projection + r.lowerBound * rank, sum,
                    qt, qtStride, r.count, columns, Int32(rank), share)
            }
        }
        applied = true
    }
}
