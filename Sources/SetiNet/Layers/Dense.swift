// Dense (fully connected): out = inp x kernel + bias, one sgemm each way.
// Shapes: inp (B, In), out (B, Out), kernel (In, Out) as Keras stores it, bias (Out).

func denseForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int
) {
    for b in 0..<batch { (out + b * outputs).update(from: bias, count: outputs) }
    BLAS.sgemm(m: batch, n: outputs, k: inputs, a: inp, lda: inputs, b: kernel, ldb: outputs, beta: 1, c: out, ldc: outputs)
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil.
func denseBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, inputs: Int, outputs: Int
) {
    // dkernel[In, Out] = inp^T x dout
    BLAS.sgemm(transA: true, m: inputs, n: outputs, k: batch, a: inp, lda: inputs, b: dout, ldb: outputs, c: dkernel, ldc: outputs)
    columnSums(dbias, dout, rows: batch, columns: outputs)
    if let dinp {
        // dinp[B, In] = dout x kernel^T
        BLAS.sgemm(transB: true, m: batch, n: inputs, k: outputs, a: dout, lda: outputs, b: kernel, ldb: outputs, c: dinp, ldc: inputs)
    }
}
