// Conv2D, "same" padding, stride 1, odd kernel, NHWC activations and HWIO kernels.
//
// The convolution is lowered onto sgemm through im2col: for a chunk of samples, each
// output pixel gets a row holding its k x k x Cin receptive field in (ky, kx, cin) order,
// which is exactly the row order of the HWIO kernel seen as a [k*k*Cin, Cout] matrix:
//   out[pixels, Cout] = col[pixels, k*k*Cin] x kernel[k*k*Cin, Cout] + bias
// Chunking bounds the col buffer (the second conv of the SETI model would need 210 MB
// for a whole batch of 32), at no cost in GEMM efficiency since a chunk is still
// thousands of rows.
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

/// Writes the im2col rows of `count` samples starting at `inp` into `col`
/// (count * H * W rows of `patch` floats). Zero padding outside the image.
func im2col(_ col: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int, _ s: ConvShape) {
    Parallel.forEachRange(count, minimumPerThread: 1) { samples in
        for b in samples { im2colSample(col + b * s.pixels * s.patch, inp + b * s.inputSize, s) }
    }
}

private func im2colSample(_ col: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, _ s: ConvShape) {
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

/// The adjoint of im2col: adds each row of `col` back onto the pixels it was copied
/// from. `dinp` (count samples) must be zeroed by the caller.
func col2im(_ dinp: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, count: Int, _ s: ConvShape) {
    Parallel.forEachRange(count, minimumPerThread: 1) { samples in
        for b in samples { col2imSample(dinp + b * s.inputSize, col + b * s.pixels * s.patch, s) }
    }
}

private func col2imSample(_ image: UnsafeMutablePointer<Float>, _ col: UnsafePointer<Float>, _ s: ConvShape) {
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

/// Samples per im2col chunk so that the col buffer stays within `budget` floats.
func convChunk(_ s: ConvShape, batch: Int, budget: Int) -> Int {
    max(1, min(batch, budget / (s.pixels * s.patch)))
}

func conv2dForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
    batch: Int, _ s: ConvShape, col: UnsafeMutablePointer<Float>, colCapacity: Int
) {
    let chunk = convChunk(s, batch: batch, budget: colCapacity)
    // Start every output pixel at the bias, then let sgemm accumulate onto it (beta = 1).
    for p in 0..<(batch * s.pixels) { (out + p * s.outChannels).update(from: bias, count: s.outChannels) }
    var b = 0
    while b < batch {
        let n = min(chunk, batch - b)
        im2col(col, inp + b * s.inputSize, count: n, s)
        BLAS.sgemm(
            m: n * s.pixels, n: s.outChannels, k: s.patch, a: col, lda: s.patch,
            b: kernel, ldb: s.outChannels, beta: 1, c: out + b * s.outputSize, ldc: s.outChannels)
        b += n
    }
}

/// Overwrites `dkernel` and `dbias`; writes `dinp` unless it is nil (the first layer
/// needs no input gradient).
func conv2dBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dbias: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ kernel: UnsafePointer<Float>,
    batch: Int, _ s: ConvShape, col: UnsafeMutablePointer<Float>, colCapacity: Int
) {
    columnSums(dbias, dout, rows: batch * s.pixels, columns: s.outChannels)
    let chunk = convChunk(s, batch: batch, budget: colCapacity)
    var b = 0
    while b < batch {
        let n = min(chunk, batch - b)
        let rows = n * s.pixels
        let doutChunk = dout + b * s.outputSize
        im2col(col, inp + b * s.inputSize, count: n, s)
        // dkernel[patch, Cout] (+)= col^T x dout
        BLAS.sgemm(
            transA: true, m: s.patch, n: s.outChannels, k: rows, a: col, lda: s.patch,
            b: doutChunk, ldb: s.outChannels, beta: b == 0 ? 0 : 1, c: dkernel, ldc: s.outChannels)
        if let dinp {
            // dcol[rows, patch] = dout x kernel^T, reusing the col buffer.
            BLAS.sgemm(
                transB: true, m: rows, n: s.patch, k: s.outChannels, a: doutChunk, lda: s.outChannels,
                b: kernel, ldb: s.outChannels, c: col, ldc: s.patch)
            let dchunk = dinp + b * s.inputSize
            dchunk.update(repeating: 0, count: n * s.inputSize)
            col2im(dchunk, col, count: n, s)
        }
        b += n
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
