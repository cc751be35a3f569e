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
    var outputSize: Int { pixels * outChannels }
}

/// Writes the im2col rows of one sample (H * W rows of `patch` floats) into `col`.
/// Zero padding outside the image.
func im2col(_ col: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, _ s: ConvShape) {
    let k = s.kernel, cin = s.inChannels, pad = s.pad
    let segment = k * cin  // one kernel row (kx = 0..<k, all channels): contiguous in NHWC
    var row = col
    for y in 0..<s.height {
        for x in 0..<s.width {
            let x0 = x - pad
            for ky in 0..<k {
                let dst = row + ky * segment
                let iy = y + ky - pad
                if iy < 0 || iy >= s.height {
                    dst.update(repeating: 0, count: segment)
                } else if x0 >= 0 && x0 + k <= s.width {
                    dst.update(from: image + (iy * s.width + x0) * cin, count: segment)
                } else {
                    for kx in 0..<k {
                        let ix = x0 + kx
                        if ix < 0 || ix >= s.width {
                            (dst + kx * cin).update(repeating: 0, count: cin)
                        } else {
                            (dst + kx * cin).update(from: image + (iy * s.width + ix) * cin, count: cin)
                        }
                    }
                }
            }
            row += s.patch
        }
    }
}

/// The adjoint of im2col for one sample: adds each row of `col` back onto the pixels it
/// was copied from. `image` must be zeroed by the caller.
func col2im(_ image: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, _ s: ConvShape) {
    let k = s.kernel, cin = s.inChannels, pad = s.pad
    var row = col
    for y in 0..<s.height {
        for x in 0..<s.width {
            for ky in 0..<k {
                let iy = y + ky - pad
                guard iy >= 0 && iy < s.height else { continue }
                let kxFirst = max(0, pad - x), kxEnd = min(k, s.width + pad - x)
                guard kxFirst < kxEnd else { continue }
                let src = row + (ky * k + kxFirst) * cin
                let dst = image + (iy * s.width + x - pad + kxFirst) * cin
                for i in 0..<((kxEnd - kxFirst) * cin) { dst[i] += src[i] }
            }
            row += s.patch
        }
    }
}

/// Scratch memory of the convolutions, one slice per worker thread: an im2col buffer
/// for one sample of the largest convolution and an accumulator for its kernel gradient.
/// Grows when more workers ask for it (the BLAS thread count can change at run time).
final class ConvWorkspace {
    let colSize: Int, kernelSize: Int
    private(set) var cols: [UnsafeMutablePointer<Float>] = []
    private(set) var kernelGradients: [UnsafeMutablePointer<Float>] = []

    init(colSize: Int, kernelSize: Int) {
        self.colSize = colSize
        self.kernelSize = kernelSize
    }

    /// The workspace for a single convolution of shape `s`.
    convenience init(_ s: ConvShape) { self.init(colSize: s.pixels * s.patch, kernelSize: s.patch * s.outChannels) }

    func reserve(workers: Int) {
        while cols.count < workers {
            cols.append(.allocate(capacity: colSize))
            kernelGradients.append(.allocate(capacity: kernelSize))
        }
    }

    deinit {
        cols.forEach { $0.deallocate() }
        kernelGradients.forEach { $0.deallocate() }
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
            for p in 0..<s.pixels { (o + p * s.outChannels).update(from: bias, count: s.outChannels) }
            im2col(col, inp + b * s.inputSize, s)
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
            im2col(col, inp + b * s.inputSize, s)
            // dkernel[patch, Cout] (+)= col^T x dout
            BLAS.sgemm(
                transA: true, m: s.patch, n: s.outChannels, k: s.pixels, a: col, lda: s.patch,
                b: doutSample, ldb: s.outChannels, beta: b == samples.lowerBound ? 0 : 1, c: dk, ldc: s.outChannels)
            if let dinp {
                // dcol[pixels, patch] = dout x kernel^T, reusing the col buffer.
                BLAS.sgemm(
                    transB: true, m: s.pixels, n: s.patch, k: s.outChannels, a: doutSample, lda: s.outChannels,
                    b: kernel, ldb: s.outChannels, c: col, ldc: s.patch)
                let dsample = dinp + b * s.inputSize
                dsample.update(repeating: 0, count: s.inputSize)
                col2im(dsample, col, s)
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
        for i in 0..<columns { acc[i] += src[i] }
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
