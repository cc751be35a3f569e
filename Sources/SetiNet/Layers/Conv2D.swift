// Conv2D, "same" padding, stride 1, odd kernel, NHWC activations and HWIO kernels.
//
// The convolution is lowered onto sgemm through im2col: each output pixel of a sample
// gets a row holding its k x k x Cin receptive field in (ky, kx, cin) order, which is
// exactly the row order of the HWIO kernel seen as a [k*k*Cin, Cout] matrix:
//   out[pixels, Cout] = col[pixels, k*k*Cin] x kernel[k*k*Cin, Cout] + bias
//
// Shapes: inp (B, H, W, Cin), out (B, H, W, Cout), kernel (k, k, Cin, Cout), bias (Cout).

/// The geometry of one Conv2D layer.
struct ConvShape {
    var height: Int, width: Int, inChannels: Int, outChannels: Int, kernel: Int

    var pad: Int { kernel / 2 }
    var pixels: Int { height * width }
    /// Length of one im2col row: the receptive field of one output pixel.
    var patch: Int { kernel * kernel * inChannels }
    var inputSize: Int { pixels * inChannels }
    /// Floats in one input image with its zero border of `pad` pixels.
    var paddedSize: Int { (height + 2 * pad) * (width + 2 * pad) * inChannels }
    var outputSize: Int { pixels * outChannels }
}

/// Writes the im2col rows of one sample (H * W rows of `patch` floats) into `col`, by
/// way of `padded`, the image with its zero border (``ConvShape/paddedSize`` floats):
/// from there every kernel row is one contiguous copy, with no edge cases.
func im2col(_ col: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>, _ s: ConvShape) {
    let k = s.kernel, cin = s.inChannels, pad = s.pad
    let paddedRow = (s.width + 2 * pad) * cin
    zeroShort(padded, count: pad * paddedRow)
    for y in 0..<s.height {
        let dst = padded + (y + pad) * paddedRow
        zeroShort(dst, count: pad * cin)
        copyShort(dst + pad * cin, image + y * s.width * cin, count: s.width * cin)
        zeroShort(dst + (pad + s.width) * cin, count: pad * cin)
    }
    zeroShort(padded + (pad + s.height) * paddedRow, count: pad * paddedRow)
    var row = col
    for y in 0..<s.height {
        for x in 0..<s.width {
            for ky in 0..<k {
                copyShort(row + ky * k * cin, padded + (y + ky) * paddedRow + x * cin, count: k * cin)
            }
            row += s.patch
        }
    }
}

/// The adjoint of im2col for one sample: sums each row of `col` back onto the pixels it
/// was copied from, into the padded image, then writes the inside of that to `image`.
func col2im(_ image: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>, _ s: ConvShape) {
    let k = s.kernel, cin = s.inChannels, pad = s.pad
    let paddedRow = (s.width + 2 * pad) * cin
    padded.update(repeating: 0, count: s.paddedSize)
    var row = col
    for y in 0..<s.height {
        for x in 0..<s.width {
            for ky in 0..<k {
                let src = row + ky * k * cin, dst = padded + (y + ky) * paddedRow + x * cin
                for i in 0..<(k * cin) { dst[i] += src[i] }
            }
            row += s.patch
        }
    }
    for y in 0..<s.height {
        copyShort(image + y * s.width * cin, padded + (y + pad) * paddedRow + pad * cin, count: s.width * cin)
    }
}

/// Scratch memory of the convolutions, one set per worker thread, sized for the largest
/// of `shapes`: an im2col buffer for one sample, a padded image and an accumulator for
/// the kernel gradient. Grows when more workers ask for it (the BLAS thread count can
/// change at run time).
final class ConvWorkspace {
    private let colSize: Int, paddedSize: Int, kernelSize: Int
    private(set) var cols: [UnsafeMutablePointer<Float>] = []
    private(set) var padded: [UnsafeMutablePointer<Float>] = []
    private(set) var kernelGradients: [UnsafeMutablePointer<Float>] = []

    init(_ shapes: [ConvShape]) {
        colSize = shapes.map { $0.pixels * $0.patch }.max() ?? 0
        paddedSize = shapes.map(\.paddedSize).max() ?? 0
        kernelSize = shapes.map { $0.patch * $0.outChannels }.max() ?? 0
    }

    func reserve(workers: Int) {
        while cols.count < workers {
            cols.append(.allocate(capacity: colSize))
            padded.append(.allocate(capacity: paddedSize))
            kernelGradients.append(.allocate(capacity: kernelSize))
        }
    }

    deinit {
        for buffers in [cols, padded, kernelGradients] { buffers.forEach { $0.deallocate() } }
    }
}

// Both directions go one sample at a time, samples split over the worker threads, each
// running single-threaded GEMMs on its own col buffer. One sample's col (6.5 MB for the
// second SETI conv) stays in cache between im2col and the GEMM that reads it, which
// lifts these GEMMs from 86 to 120 GFLOP/s on one core; and splitting samples rather
// than each GEMM parallelizes im2col and col2im too (199 instead of 146 GFLOP/s on two
// cores).

func conv2dForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
    batch: Int, _ s: ConvShape, workspace: ConvWorkspace
) {
    Parallel.forEachWorker(batch, reserving: workspace.reserve) { worker, samples in
        let col = workspace.cols[worker]
        for b in samples {
            let o = out + b * s.outputSize
            // Start every output pixel at the bias, then let sgemm accumulate onto it (beta = 1).
            for p in 0..<s.pixels { copyShort(o + p * s.outChannels, bias, count: s.outChannels) }
            im2col(col, inp + b * s.inputSize, padded: workspace.padded[worker], s)
            BLAS.sgemm(
                m: s.pixels, n: s.outChannels, k: s.patch, a: col, lda: s.patch,
                b: kernel, ldb: s.outChannels, beta: 1, c: o, ldc: s.outChannels)
        }
    }
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil (the first layer
/// needs no input gradient).
func conv2dBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, _ s: ConvShape, workspace: ConvWorkspace
) {
    columnSums(dbias, dout, rows: batch * s.pixels, columns: s.outChannels)
    let kernelSize = s.patch * s.outChannels
    let workers = Parallel.forEachWorker(batch, reserving: workspace.reserve) { worker, samples in
        let col = workspace.cols[worker]
        // Worker 0 accumulates straight into dkernel, the others into their own buffers.
        let dk = worker == 0 ? dkernel : workspace.kernelGradients[worker]
        for b in samples {
            let doutSample = dout + b * s.outputSize
            im2col(col, inp + b * s.inputSize, padded: workspace.padded[worker], s)
            // dkernel[patch, Cout] (+)= col^T x dout
            BLAS.sgemm(
                transA: true, m: s.patch, n: s.outChannels, k: s.pixels, a: col, lda: s.patch,
                b: doutSample, ldb: s.outChannels, beta: b == samples.lowerBound ? 0 : 1, c: dk, ldc: s.outChannels)
            if let dinp {
                // dcol[pixels, patch] = dout x kernel^T, reusing the col buffer.
                BLAS.sgemm(
                    transB: true, m: s.pixels, n: s.patch, k: s.outChannels, a: doutSample, lda: s.outChannels,
                    b: kernel, ldb: s.outChannels, c: col, ldc: s.patch)
                col2im(dinp + b * s.inputSize, col, padded: workspace.padded[worker], s)
            }
        }
    }
    for worker in 1..<workers {
        let partial = workspace.kernelGradients[worker]
        for i in 0..<kernelSize { dkernel[i] += partial[i] }
    }
}

/// out[c] = sum over rows of m[row, c].
func columnSums(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, rows: Int, columns: Int) {
    blockedColumnSums(out, rows: rows, columns: columns) { row, acc in
        let src = m + row * columns
        forEachVector(0..<columns, { i in store(load(acc, i) + load(src, i), acc, i) }, tail: { i in acc[i] += src[i] })
    }
}

/// Per-column sums over rows, where `addRow(row, acc)` adds one row's contributions to
/// acc[0..<columns]. Rows are cut into fixed blocks of 256, each summed in Float, and the
/// block sums folded in Double in block order: accurate for long columns, parallel, and
/// bit-identical whatever the thread count.
@inline(__always)
func blockedColumnSums(
    _ out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, _ addRow: (Int, UnsafeMutablePointer<Float>) -> Void
) {
    let block = 256
    let blocks = (rows + block - 1) / block
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks * columns))
    defer { partials.deallocate() }
    partials.update(repeating: 0, count: blocks * columns)
    Parallel.forEachRange(blocks, minimumPerThread: 8) { range in
        for b in range {
            let acc = partials + b * columns
            for row in (b * block)..<min(rows, (b + 1) * block) { addRow(row, acc) }
        }
    }
    for i in 0..<columns {
        var total = 0.0
        for b in 0..<blocks { total += Double(partials[b * columns + i]) }
        out[i] = Float(total)
    }
}
