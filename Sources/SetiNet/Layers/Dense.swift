// Dense (fully connected): out = inp x kernel + bias, on sgemm.
// Shapes: inp (B, In), out (B, Out), kernel (In, Out) as Keras stores it, bias (Out).

/// Rows of the kernel per block in both directions.
private let denseBlock = 1024

/// The inputs go in slices of whole blocks, each multiplied into its own partial output
/// by a single-threaded GEMM on one of the worker threads, and the partials are added in
/// slice order: the same sums whatever the thread count. With a batch of 32 this GEMM is
/// thin, and one sgemm call on two OpenBLAS threads ran 1.6x faster than on one.
func denseForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int
) {
    let blocks = (inputs + denseBlock - 1) / denseBlock
    let slices = min(4, blocks)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: slices * batch * outputs)
    defer { partials.deallocate() }
    Parallel.forEachWorker(slices) { _, mine in
        for slice in mine {
            let first = slice * blocks / slices * denseBlock, end = min(inputs, (slice + 1) * blocks / slices * denseBlock)
            BLAS.sgemm(
                m: batch, n: outputs, k: end - first, a: inp + first, lda: inputs, b: kernel + first * outputs,
                ldb: outputs, c: partials + slice * batch * outputs, ldc: outputs)
        }
    }
    for b in 0..<batch {
        let row = out + b * outputs
        row.update(from: bias, count: outputs)
        for slice in 0..<slices {
            let partial = partials + (slice * batch + b) * outputs
            forEachVector(0..<outputs, { i in store(load(row, i) + load(partial, i), row, i) }, tail: { i in row[i] += partial[i] })
        }
    }
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil.
///
/// Both GEMMs go in blocks of 1024 inputs (rows of the kernel), split over the worker
/// threads with single-threaded GEMMs. With a batch of 32 these GEMMs are thin, and whole
/// they stream the 134 MB kernel of the SETI model's first dense layer through memory
/// more than once (sgemm zeroes dkernel, then accumulates onto it); per block, a 4 MB
/// slice stays in cache. One core: 27 -> 22 ms for dkernel, 32 -> 26 ms for dinp.
func denseBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int
) {
    columnSums(dbias, dout, rows: batch, columns: outputs)
    let block = denseBlock
    Parallel.forEachWorker((inputs + block - 1) / block) { _, blocks in
        // One block's input gradient, rows x batch, before it is transposed into place.
        let transposed = UnsafeMutablePointer<Float>.allocate(capacity: min(block, inputs) * batch)
        defer { transposed.deallocate() }
        for first in blocks.map({ $0 * block }) {
            let rows = min(block, inputs - first)
            // dkernel[rows, Out] = inp[:, rows]^T x dout
            BLAS.sgemm(
                transA: true, m: rows, n: outputs, k: batch, a: inp + first, lda: inputs, b: dout, ldb: outputs,
                c: dkernel + first * outputs, ldc: outputs)
            if let dinp {
                // dinp[:, rows]^T = kernel[rows, Out] x dout^T, then transposed into place.
                // Asked for as dout x kernel[rows, Out]^T, OpenBLAS's AVX-512 kernels pack the
                // kernel slice column by column, and that packing took 60% of the time;
                // this way round it reads the slice row by row (43 -> 33 ms a step, one core).
                BLAS.sgemm(
                    transB: true, m: rows, n: batch, k: outputs, a: kernel + first * outputs, lda: outputs,
                    b: dout, ldb: outputs, c: transposed, ldc: batch)
                for b in 0..<batch {
                    let row = dinp + b * inputs + first
                    for j in 0..<rows { row[j] = transposed[j * batch + b] }
                }
            }
        }
    }
}
