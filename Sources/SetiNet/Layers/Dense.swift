import CKernels

// Dense (fully connected): out = inp x kernel + bias.
// Shapes: inp (B, In), out (B, Out), kernel (In, Out) as Keras stores it, bias (Out).
//
// Two ways to the same sums. With AVX-512, the three GEMMs run on the dense kernels in C
// (Sources/CKernels/dense_kernels.c): with a batch of 32, OpenBLAS's AVX-512 kernels spent
// about as long packing the SETI model's 134 MB kernel as multiplying it. Elsewhere they
// run on sgemm, whose AVX2 kernels did better on these shapes than the same C loops built
// for AVX2. Either way work is split over the worker threads so that every element is
// summed in the same order whatever the thread count.

func denseForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int,
    workspace: DenseWorkspace = DenseWorkspace()
) {
    #if arch(x86_64)
    if Int(seti_instruction_set()) == SETI_AVX512 {
        return denseForwardKernels(out, inp, kernel, bias, batch: batch, inputs: inputs, outputs: outputs, workspace)
    }
    #endif
    denseForwardSgemm(out, inp, kernel, bias, batch: batch, inputs: inputs, outputs: outputs, workspace)
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil. With a `fold`, the
/// kernel gradient goes into the fold's matrix instead, and `dkernel` holds nothing of use.
func denseBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int, workspace: DenseWorkspace = DenseWorkspace(), fold: KernelGradientFold? = nil
) {
    columnSums(dbias, dout, rows: batch, columns: outputs)
    var foldAfter = fold
    #if arch(x86_64)
    if Int(seti_instruction_set()) == SETI_AVX512 {
        let inPass = fold.flatMap { $0.rank <= Int(SETI_DENSE_FOLD_MAX_RANK) ? $0 : nil }
        if inPass != nil { foldAfter = nil }
        denseBackwardKernels(dinp, dkernel, dout, inp, kernel, batch: batch, inputs: inputs, outputs: outputs, workspace, fold: inPass)
    } else {
        denseBackwardSgemm(dinp, dkernel, dout, inp, kernel, batch: batch, inputs: inputs, outputs: outputs, workspace)
    }
    #else
    denseBackwardSgemm(dinp, dkernel, dout, inp, kernel, batch: batch, inputs: inputs, outputs: outputs, workspace)
    #endif
    foldAfter?.apply(gradient: dkernel, rows: inputs, columns: outputs)
}

/// Scratch memory of the dense layers, kept from call to call: transposed operands and
/// partial products, 4 MB each for the SETI model's first dense layer at batch 32. Freed
/// and allocated again every call, each of them cost a page fault per 4 KB page.
final class DenseWorkspace {
    private var buffers: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    /// Scratch buffer number `index`, with room for at least `count` floats; contents are
    /// not kept when it grows. Call before work is split over threads.
    func buffer(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
        while buffers.count <= index { buffers.append((.allocate(capacity: 0), 0)) }
        if buffers[index].capacity < count {
            buffers[index].pointer.deallocate()
            buffers[index] = (.allocate(capacity: count), count)
        }
        return buffers[index].pointer
    }

    deinit { buffers.forEach { $0.pointer.deallocate() } }
}

// MARK: On the C kernels (AVX-512)

#if arch(x86_64)
/// Output columns per share of the forward split: whole tiles.
private let columnsPerShare = 64

private func denseForwardKernels(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int,
    _ workspace: DenseWorkspace
) {
    let inpT = transposed(inp, rows: batch, columns: inputs, paddedTo: batch, into: workspace.buffer(0, count: inputs * batch))
    for b in 0..<batch { (out + b * outputs).update(from: bias, count: outputs) }
    let shares = (outputs + columnsPerShare - 1) / columnsPerShare
    Parallel.forEachWorker(shares) { _, mine in
        seti_dense_forward(
            out, inpT, kernel, batch, inputs, outputs, mine.lowerBound * columnsPerShare,
            min(outputs, mine.upperBound * columnsPerShare))
    }
}

private func denseBackwardKernels(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int, _ workspace: DenseWorkspace, fold: KernelGradientFold?
) {
    let inpT = transposed(inp, rows: batch, columns: inputs, paddedTo: batch, into: workspace.buffer(0, count: inputs * batch))
    // The input gradient's kernel works on whole blocks of the batch, padded with zeros.
    let padded = (batch + Int(SETI_DENSE_BATCH_MULTIPLE) - 1) / Int(SETI_DENSE_BATCH_MULTIPLE) * Int(SETI_DENSE_BATCH_MULTIPLE)
    let doutT = dinp == nil ? nil : transposed(dout, rows: batch, columns: outputs, paddedTo: padded, into: workspace.buffer(1, count: outputs * padded))
    let dinpT = dinp == nil ? nil : workspace.buffer(2, count: inputs * padded)
    // With a fold, the rows go to the workers in whole blocks of the fold's.
    let unit = fold == nil ? 1 : KernelGradientFold.rowsPerSum
    Parallel.forEachWorker((inputs + unit - 1) / unit) { _, units in
        let first = units.lowerBound * unit, end = min(inputs, units.upperBound * unit)
        if let fold {
            for b in units {
                let (rows, sum) = fold.block(b, rows: inputs)
                seti_dense_kernel_gradient_fold(
                    fold.matrix, inpT, dout, batch, outputs, rows.lowerBound, rows.upperBound, fold.projection, sum, fold.qt,
                    fold.qtStride, Int32(fold.rank), fold.share)
            }
        } else {
            seti_dense_kernel_gradient(dkernel, inpT, dout, batch, inputs, outputs, first, end)
        }
        if let dinp, let doutT, let dinpT {
            seti_dense_input_gradient(dinpT, doutT, kernel, padded, inputs, outputs, first, end)
            seti_transpose(dinp + first, inputs, dinpT + first * padded, padded, end - first, batch)
        }
    }
}

/// `t`, filled with `m` (rows x columns) transposed, each of its rows `paddedTo` long with
/// zeros past `rows`.
private func transposed(
    _ m: UnsafePointer<Float>, rows: Int, columns: Int, paddedTo: Int, into t: UnsafeMutablePointer<Float>
) -> UnsafeMutablePointer<Float> {
    if paddedTo > rows { t.update(repeating: 0, count: columns * paddedTo) }
    seti_transpose(t, paddedTo, m, columns, rows, columns)
    return t
}
#endif

// MARK: On sgemm

/// Rows of the kernel per block in both directions.
private let denseBlock = 1024

/// The inputs go in slices of whole blocks, each multiplied into its own partial output
/// by a single-threaded GEMM on one of the worker threads, and the partials are added in
/// slice order: the same sums whatever the thread count. With a batch of 32 this GEMM is
/// thin, and one sgemm call on two OpenBLAS threads ran faster than on one (CHANGELOG).
private func denseForwardSgemm(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int,
    _ workspace: DenseWorkspace
) {
    let blocks = (inputs + denseBlock - 1) / denseBlock
    let slices = min(4, blocks)
    let partials = workspace.buffer(0, count: slices * batch * outputs)
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

/// Both GEMMs go in blocks of 1024 inputs (rows of the kernel), split over the worker
/// threads with single-threaded GEMMs. With a batch of 32 these GEMMs are thin, and whole
/// they stream the 134 MB kernel of the SETI model's first dense layer through memory
/// more than once (sgemm zeroes dkernel, then accumulates onto it); per block, a 4 MB
/// slice stays in cache, which made both GEMMs faster (CHANGELOG).
private func denseBackwardSgemm(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int, _ workspace: DenseWorkspace
) {
    let block = denseBlock
    // Per worker: one block's input gradient, rows x batch, before it is transposed into place.
    var transposedBlocks: [UnsafeMutablePointer<Float>] = []
    Parallel.forEachWorker(
        (inputs + block - 1) / block,
        reserving: { workers in transposedBlocks = (0..<workers).map { workspace.buffer($0, count: min(block, inputs) * batch) } }
    ) { worker, blocks in
        let transposed = transposedBlocks[worker]
        for first in blocks.map({ $0 * block }) {
            let rows = min(block, inputs - first)
            // dkernel[rows, Out] = inp[:, rows]^T x dout
            BLAS.sgemm(
                transA: true, m: rows, n: outputs, k: batch, a: inp + first, lda: inputs, b: dout, ldb: outputs,
                c: dkernel + first * outputs, ldc: outputs)
            if let dinp {
                // dinp[:, rows]^T = kernel[rows, Out] x dout^T, then transposed into place.
                // Asked for as dout x kernel[rows, Out]^T, OpenBLAS's AVX-512 kernels pack the
                // kernel slice column by column, and that packing took most of the time;
                // this way round it reads the slice row by row.
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
