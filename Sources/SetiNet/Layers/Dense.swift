import CKernels

// Dense (fully connected): out = inp x kernel + bias.
// Shapes: inp (B, In), out (B, Out), kernel (In, Out) as Keras stores it, bias (Out).
//
// The three GEMMs run on the dense kernels in C (Sources/CKernels/dense_kernels.c), not
// on sgemm: with a batch of 32, OpenBLAS spent about as long packing the SETI model's
// 134 MB kernel as multiplying it. Work is split over the worker threads by output
// columns (forward) or kernel rows (backward), and every element is summed in the same
// order whatever the split, so results do not depend on the thread count.

/// Output columns per share of the forward split: whole tiles for every instruction set.
private let columnsPerShare = 64

func denseForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int
) {
    let inpT = transposed(inp, rows: batch, columns: inputs, paddedTo: batch)
    defer { inpT.deallocate() }
    for b in 0..<batch { (out + b * outputs).update(from: bias, count: outputs) }
    let shares = (outputs + columnsPerShare - 1) / columnsPerShare
    Parallel.forEachWorker(shares) { _, mine in
        seti_dense_forward(
            out, inpT, kernel, batch, inputs, outputs, mine.lowerBound * columnsPerShare,
            min(outputs, mine.upperBound * columnsPerShare))
    }
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil.
func denseBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int
) {
    columnSums(dbias, dout, rows: batch, columns: outputs)
    let inpT = transposed(inp, rows: batch, columns: inputs, paddedTo: batch)
    defer { inpT.deallocate() }
    // The input gradient's kernel works on whole blocks of the batch, padded with zeros.
    let padded = (batch + Int(SETI_DENSE_BATCH_MULTIPLE) - 1) / Int(SETI_DENSE_BATCH_MULTIPLE) * Int(SETI_DENSE_BATCH_MULTIPLE)
    let doutT = dinp == nil ? nil : transposed(dout, rows: batch, columns: outputs, paddedTo: padded)
    let dinpT = dinp == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: inputs * padded)
    defer { doutT?.deallocate(); dinpT?.deallocate() }
    Parallel.forEachWorker(inputs) { _, rows in
        let first = rows.lowerBound, end = rows.upperBound
        seti_dense_kernel_gradient(dkernel, inpT, dout, batch, inputs, outputs, first, end)
        if let dinp, let doutT, let dinpT {
            seti_dense_input_gradient(dinpT, doutT, kernel, padded, inputs, outputs, first, end)
            seti_transpose(dinp + first, inputs, dinpT + first * padded, padded, end - first, batch)
        }
    }
}

/// A new buffer holding `m` (rows x columns) transposed, each of its rows `paddedTo` long
/// with zeros past `rows`.
private func transposed(_ m: UnsafePointer<Float>, rows: Int, columns: Int, paddedTo: Int) -> UnsafeMutablePointer<Float> {
    let t = UnsafeMutablePointer<Float>.allocate(capacity: columns * paddedTo)
    if paddedTo > rows { t.initialize(repeating: 0, count: columns * paddedTo) }
    seti_transpose(t, paddedTo, m, columns, rows, columns)
    return t
}
