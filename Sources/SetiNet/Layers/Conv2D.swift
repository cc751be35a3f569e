import CKernels

// Conv2D, "same" padding, stride 1, odd kernel, NHWC activations and HWIO kernels.
//
// The convolution is lowered onto sgemm. Classic im2col gives each output pixel a row
// holding its k x k x Cin receptive field in (ky, kx, cin) order, the row order of the
// HWIO kernel seen as a [k*k*Cin, Cout] matrix:
//   out[pixels, Cout] = col[pixels, k*k*Cin] x kernel[k*k*Cin, Cout] + bias
// When a kernel row holds enough inputs (k * Cin >= 128), seti-dist lowers by bands
// instead: a row per pixel of the zero-padded image's H + k - 1 rows, holding only its
// k x Cin horizontal neighbourhood. The rows of output row y under kernel row ky are then
// the contiguous rows starting at band row y + ky, so k GEMMs of depth k*Cin do the work:
//   out[pixels, Cout] = sum over ky of band[(y + ky) * W + x, k*Cin] x kernel[ky][k*Cin, Cout]
// The lowered buffer is k times smaller (1.5 MB instead of 6.5 MB a sample for the second
// SETI conv), so writing it, packing it and summing it back (col2im) move k times less
// memory, and the conv runs faster in paired runs (figures in the CHANGELOG).
//
// With one input channel (the first SETI conv) a lowered row is only k*k deep, too short
// for sgemm: forward and the kernel gradient run direct loops in C instead
// (CKernels/conv_one_channel.c). An input gradient, which the first layer never needs,
// still goes through im2col.
//
// Shapes: inp (B, H, W, Cin), out (B, H, W, Cout), kernel (k, k, Cin, Cout), bias (Cout).

/// The geometry of one Conv2D layer.
struct ConvShape {
    var height: Int, width: Int, inChannels: Int, outChannels: Int, kernel: Int

    var pad: Int { kernel / 2 }
    var pixels: Int { height * width }
    /// The receptive field of one output pixel: the kernel's rows as a [patch, Cout] matrix.
    var patch: Int { kernel * kernel * inChannels }
    var inputSize: Int { pixels * inChannels }
    /// Floats in one input image with its zero border of `pad` pixels.
    var paddedSize: Int { (height + 2 * pad) * (width + 2 * pad) * inChannels }
    var outputSize: Int { pixels * outChannels }

    /// Kernel rows one lowered row covers: all k (im2col, one GEMM) when a kernel row is
    /// too short to make a deep enough GEMM on its own (the first SETI conv: 5 inputs),
    /// else 1 (band lowering, k GEMMs).
    var rowsPerBand: Int { kernel * inChannels >= 128 ? 1 : kernel }
    /// GEMMs per sample and direction, and the depth (K) of each.
    var gemms: Int { kernel / rowsPerBand }
    var bandWidth: Int { rowsPerBand * kernel * inChannels }
    /// Lowered rows of one sample: each pixel of H + k - rowsPerBand image rows.
    var loweredRows: Int { (height + kernel - rowsPerBand) * width }
    var loweredSize: Int { loweredRows * bandWidth }
}

/// Writes the lowered rows of one sample (``ConvShape/loweredRows`` rows of
/// ``ConvShape/bandWidth`` floats) into `col`, by way of `padded`, the image with its zero
/// border (``ConvShape/paddedSize`` floats): from there every kernel row's stretch is one
/// contiguous copy, with no edge cases.
func im2col(_ col: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>, _ s: ConvShape) {
    let k = s.kernel, cin = s.inChannels
    let paddedRow = (s.width + 2 * s.pad) * cin
    padImage(padded, image, s)
    // Runs go in ascending order, so copyInVectors may overrun each (see ConvWorkspace).
    var row = col
    for y in 0..<(s.loweredRows / s.width) {
        for x in 0..<s.width {
            for dy in 0..<s.rowsPerBand {
                copyInVectors(row + dy * k * cin, padded + (y + dy) * paddedRow + x * cin, count: k * cin)
            }
            row += s.bandWidth
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
    for y in 0..<(s.loweredRows / s.width) {
        for x in 0..<s.width {
            for dy in 0..<s.rowsPerBand {
                let src = row + dy * k * cin, dst = padded + (y + dy) * paddedRow + x * cin
                forEachVector(0..<(k * cin), { i in store(load(dst, i) + load(src, i), dst, i) }, tail: { i in dst[i] += src[i] })
            }
            row += s.bandWidth
        }
    }
    for y in 0..<s.height {
        copyShort(image + y * s.width * cin, padded + (y + pad) * paddedRow + pad * cin, count: s.width * cin)
    }
}

/// Scratch memory of the convolutions, one set per worker thread, sized for the largest
/// of `shapes`: a lowered buffer for one sample, a padded image and an accumulator for
/// the kernel gradient. Grows when more workers ask for it (the BLAS thread count can
/// change at run time).
final class ConvWorkspace {
    private let colSize: Int, paddedSize: Int, kernelSize: Int
    private(set) var cols: [UnsafeMutablePointer<Float>] = []
    private(set) var padded: [UnsafeMutablePointer<Float>] = []
    private(set) var kernelGradients: [UnsafeMutablePointer<Float>] = []

    init(_ shapes: [ConvShape]) {
        // With slack for im2col's vector copies past the last run.
        colSize = (shapes.map(\.loweredSize).max() ?? 0) + vectorCopySlack
        paddedSize = (shapes.map(\.paddedSize).max() ?? 0) + vectorCopySlack
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
// running single-threaded GEMMs on its own col buffer. One sample's col stays in cache
// between im2col and the GEMMs that read it (with whole-batch im2col it had left the
// cache, and the GEMMs ran slower); and splitting samples rather than each GEMM
// parallelizes im2col and col2im too (docs/PERFORMANCE.md and the CHANGELOG have the figures).
//
// GEMM g covers kernel rows g * rowsPerBand ..< (g + 1) * rowsPerBand: its rows of col
// start at band row g * rowsPerBand, and its slice of the kernel at that kernel row.

@inline(__always)
private func bandRows(_ col: UnsafeMutablePointer<Float>, _ g: Int, _ s: ConvShape) -> UnsafeMutablePointer<Float> {
    col + g * s.rowsPerBand * s.width * s.bandWidth
}

@inline(__always)
private func kernelOffset(_ g: Int, _ s: ConvShape) -> Int { g * s.bandWidth * s.outChannels }

func conv2dForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
    batch: Int, _ s: ConvShape, workspace: ConvWorkspace
) {
    Parallel.forEachWorker(batch, reserving: workspace.reserve) { worker, samples in
        let col = workspace.cols[worker]
        for b in samples {
            let o = out + b * s.outputSize
            if s.inChannels == 1 {
                let padded = workspace.padded[worker]
                padImage(padded, inp + b * s.inputSize, s)
                seti_conv_one_channel_forward(o, padded, kernel, bias, s.height, s.width, s.kernel, s.outChannels)
                continue
            }
            // Start every output pixel at the bias, then let sgemm accumulate onto it (beta = 1).
            for p in 0..<s.pixels { copyShort(o + p * s.outChannels, bias, count: s.outChannels) }
            im2col(col, inp + b * s.inputSize, padded: workspace.padded[worker], s)
            for g in 0..<s.gemms {
                BLAS.sgemm(
                    m: s.pixels, n: s.outChannels, k: s.bandWidth, a: bandRows(col, g, s), lda: s.bandWidth,
                    b: kernel + kernelOffset(g, s), ldb: s.outChannels, beta: 1, c: o, ldc: s.outChannels)
            }
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
        if s.inChannels == 1 && dinp == nil {
            dk.update(repeating: 0, count: kernelSize)
            for b in samples {
                padImage(workspace.padded[worker], inp + b * s.inputSize, s)
                seti_conv_one_channel_kernel_gradient(
                    dk, workspace.padded[worker], dout + b * s.outputSize, s.height, s.width, s.kernel, s.outChannels)
            }
            return
        }
        for b in samples {
            let doutSample = dout + b * s.outputSize
            im2col(col, inp + b * s.inputSize, padded: workspace.padded[worker], s)
            for g in 0..<s.gemms {
                // dkernel[rows of g] (+)= col[rows of g]^T x dout
                BLAS.sgemm(
                    transA: true, m: s.bandWidth, n: s.outChannels, k: s.pixels, a: bandRows(col, g, s), lda: s.bandWidth,
                    b: doutSample, ldb: s.outChannels, beta: b == samples.lowerBound ? 0 : 1,
                    c: dk + kernelOffset(g, s), ldc: s.outChannels)
            }
            if let dinp {
                // dcol = dout x kernel^T into the col buffer, GEMM by GEMM: the first writes
                // the first H * W rows, the rest add onto rows they share with it.
                zeroShort(col + s.pixels * s.bandWidth, count: s.loweredSize - s.pixels * s.bandWidth)
                for g in 0..<s.gemms {
                    BLAS.sgemm(
                        transB: true, m: s.pixels, n: s.bandWidth, k: s.outChannels, a: doutSample, lda: s.outChannels,
                        b: kernel + kernelOffset(g, s), ldb: s.outChannels, beta: g == 0 ? 0 : 1,
                        c: bandRows(col, g, s), ldc: s.bandWidth)
                }
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
    blockedColumnSums(out, rows: rows, columns: columns) { block, acc in
        seti_add_rows(acc, m + block.lowerBound * columns, block.count, columns)
    }
}

/// Per-column sums over rows, where `addRows(rows, acc)` adds a block of rows'
/// contributions to acc[0..<columns]. Rows are cut into fixed blocks of 256, each summed in
/// Float, and the block sums folded in Double in block order: accurate for long columns,
/// parallel, and bit-identical whatever the thread count.
@inline(__always)
func blockedColumnSums(
    _ out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, _ addRows: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
) {
    let block = 256
    let blocks = (rows + block - 1) / block
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks * columns))
    defer { partials.deallocate() }
    partials.update(repeating: 0, count: blocks * columns)
    Parallel.forEachRange(blocks, minimumPerThread: 8) { range in
        for b in range { addRows((b * block)..<min(rows, (b + 1) * block), partials + b * columns) }
    }
    for i in 0..<columns {
        var total = 0.0
        for b in 0..<blocks { total += Double(partials[b * columns + i]) }
        out[i] = Float(total)
    }
}
