import CKernels
// Winograd's minimal filtering F(m x m, r x r) for a "same" convolution (Lavin and Gray
// 2016): an m x m tile of output from an alpha x alpha tile of input (alpha = m + r - 1)
// with alpha^2 products per channel pair instead of r^2 m^2. Per tile,
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// and over channels the element-wise products become alpha^2 GEMMs, one per position xi
// of the alpha x alpha tile:  M[xi] (tiles x Cout) = V[xi] (tiles x Cin) x U[xi] (Cin x Cout),
// with V = B^T d B the transformed input tiles and U = G g G^T the transformed kernel.
//
// Backward uses the same transforms, transposed: with W[xi] = A dY A^T (the output
// gradient's tiles),
//   kernel gradient  dU[xi] = V[xi]^T x W[xi],     dg = G^T dU G
//   input gradient   dV[xi] = W[xi] x U[xi]^T,     dd = B dV B^T, summed where tiles overlap.
//
// The matrices come from Toom-Cook: correlation is the transpose of polynomial
// multiplication, so with V_n the alpha x n matrix evaluating a polynomial of degree < n at
// the points (infinity: its leading coefficient), A^T = V_m^T, G = V_r and B^T = (V_alpha^-1)^T.
// Points 0, +-1, +-2, +-1/2 and infinity keep the fp32 error small (README: against
// im2col). Tiles of 8 x 8 (m = 4 for 5 x 5 kernels) do 6.25x fewer multiplications.
//
// Layouts: V, W and their gradients hold a row per tile (sample-major, then row-major tile
// order) of the tile's alpha^2 channel vectors side by side; the matrix of position xi is
// every row's xi-th vector, rows alpha^2 C floats apart. U and dU: alpha^2 matrices
// Cin x Cout.

/// The transforms of F(m x m, r x r), in Float, built in Double.
struct WinogradTransform {
    let m: Int, r: Int, alpha: Int
    /// m x alpha, alpha x r, alpha x alpha; row-major.
    let at: [Float], g: [Float], bt: [Float]

    init(m: Int, r: Int) {
        self.m = m
        self.r = r
        alpha = m + r - 1
        let points = Array([0.0, 1, -1, 2, -2, 0.5, -0.5, 4, -4, 0.25, -0.25].prefix(alpha - 1))
        precondition(points.count == alpha - 1, "F(\(m), \(r)) needs more points")
        // Row j of V_n: point j's powers 0..<n; the last row (infinity): 0, ..., 0, 1.
        func vandermonde(_ n: Int) -> [[Double]] {
            var rows: [[Double]] = []
            for p in points {
                var row = [Double](repeating: 1, count: n)
                for k in 1..<max(1, n) { row[k] = row[k - 1] * p }
                rows.append(row)
            }
            var infinity = [Double](repeating: 0, count: n)
            infinity[n - 1] = 1
            return rows + [infinity]
        }
        let vm = vandermonde(m), vr = vandermonde(r), inverse = invert(vandermonde(alpha))
        let alpha = alpha
        at = (0..<m).flatMap { i in (0..<alpha).map { j in Float(vm[j][i]) } }
        g = vr.flatMap { $0.map(Float.init) }
        bt = (0..<alpha).flatMap { i in (0..<alpha).map { j in Float(inverse[j][i]) } }
    }
}

/// The inverse of a small non-singular matrix (Gauss-Jordan with partial pivoting).
private func invert(_ matrix: [[Double]]) -> [[Double]] {
    let n = matrix.count
    var a = matrix.enumerated().map { i, row in row + (0..<n).map { $0 == i ? 1.0 : 0 } }
    for column in 0..<n {
        let pivot = (column..<n).max { abs(a[$0][column]) < abs(a[$1][column]) }!
        a.swapAt(column, pivot)
        let scale = a[column][column]
        a[column] = a[column].map { $0 / scale }
        for row in 0..<n where row != column {
            let factor = a[row][column]
            if factor != 0 { a[row] = zip(a[row], a[column]).map { $0 - factor * $1 } }
        }
    }
    return a.map { Array($0[n...]) }
}

/// `out[i][j][:] (+)= sum over k, l of left[i][k] in[k][l][:] right[j][l] (+ bias)`: a
/// two-sided transform of a rows x columns tile of channel vectors, read and written in
/// place (rows `rowStride` floats apart, columns `stride`), through `scratch` (see
/// CKernels, which runs it at the CPU's vector width).
@inline(__always)
private func transformTile(
    _ out: UnsafeMutablePointer<Float>, outRowStride: Int, outStride: Int, _ inp: UnsafePointer<Float>, inRowStride: Int, inStride: Int,
    left: UnsafePointer<Float>, rowsOut: Int, rowsIn: Int, right: UnsafePointer<Float>, columnsOut: Int, columnsIn: Int,
    channels: Int, bias: UnsafePointer<Float>? = nil, accumulate: Bool = false, scratch: UnsafeMutablePointer<Float>
) {
    seti_winograd_transform(out, outRowStride, outStride, inp, inRowStride, inStride, left, Int32(rowsOut), Int32(rowsIn),
                            right, Int32(columnsOut), Int32(columnsIn), Int32(channels), bias, accumulate ? 1 : 0, scratch)
}

/// How the network computes its convolutions.
public enum ConvolutionAlgorithm: String, Codable, Hashable, Sendable, CaseIterable {
    /// Winograd F(4 x 4, k x k) where ``WinogradConvolution/make(_:m:)`` accepts the layer
    /// (the SETI CNN: the second convolution), im2col elsewhere.
    case winograd
    /// im2col (or band lowering) and sgemm everywhere: the direct algorithm, the reference.
    case im2col
}

/// One convolution layer computed with Winograd: its transforms, tile grid and buffers.
final class WinogradConvolution {
    let shape: ConvShape
    let transform: WinogradTransform
    let tilesY: Int, tilesX: Int
    /// Samples per GEMM round of a worker: about 128 rows (tiles), so that the V and M a
    /// transform has just written are still in cache when the GEMMs read them (3 MB for
    /// the SETI CNN's second convolution). Rounds of 1024 rows (24 MB) fell out of cache,
    /// and the GEMMs, with only 32 or 64 products per output, waited on memory.
    let samplesPerChunk: Int
    private var tiles: Int { tilesY * tilesX }
    /// V (and dV) and W (and M) hold a tile's alpha^2 vectors side by side, so that a
    /// transform reads or writes one contiguous block: floats from one tile to the next
    /// (the GEMMs' leading dimension) and from one position to the next.
    private var vTile: Int { positions * shape.inChannels }
    private var vPosition: Int { shape.inChannels }
    private var wTile: Int { positions * shape.outChannels }
    private var wPosition: Int { shape.outChannels }
    private var positions: Int { transform.alpha * transform.alpha }
    /// Transposes of the transforms, as the backward passes use them.
    private let a: [Float], gt: [Float], b: [Float]
    /// Whether the input transforms (V = B^T d B, and dd = B dV B^T) and the output ones
    /// (A^T M A, and W = A dY A^T) can take the straight-line F(4 x 4, 5 x 5) code, which
    /// shares the products of the matrices' paired rows or columns.
    private let pairedInputTransform: Bool, pairedOutputTransform: Bool
    /// The transformed kernel U, its matrices transposed (Cout x Cin, for the input
    /// gradient's GEMMs), and per worker: V, W, the transform scratch, dU.
    private let kernel: UnsafeMutablePointer<Float>, kernelTransposed: UnsafeMutablePointer<Float>
    private var workers: [(v: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>, dkernel: UnsafeMutablePointer<Float>)] = []

    /// Winograd with m x m output tiles where it applies: stride 1, "same" padding, a
    /// kernel of 3 to 7, image sides that are multiples of m, and several input channels
    /// (with one, the GEMMs would be outer products and the transforms would cost more than
    /// they save). Nil elsewhere.
    static func make(_ s: ConvShape, m: Int = 4) -> WinogradConvolution? {
        guard (3...7).contains(s.kernel), s.kernel % 2 == 1, s.height % m == 0, s.width % m == 0, s.inChannels >= 8 else { return nil }
        return WinogradConvolution(s, m: m)
    }

    private init(_ s: ConvShape, m: Int) {
        shape = s
        transform = WinogradTransform(m: m, r: s.kernel)
        tilesY = s.height / m
        tilesX = s.width / m
        samplesPerChunk = max(1, 128 / (tilesY * tilesX))
        let t = transform
        a = (0..<t.alpha).flatMap { i in (0..<t.m).map { j in t.at[j * t.alpha + i] } }
        gt = (0..<t.r).flatMap { i in (0..<t.alpha).map { j in t.g[j * t.r + i] } }
        b = (0..<t.alpha).flatMap { i in (0..<t.alpha).map { j in t.bt[j * t.alpha + i] } }
        kernel = .allocate(capacity: t.alpha * t.alpha * s.inChannels * s.outChannels)
        pairedInputTransform = t.alpha == 8 && s.inChannels % 8 == 0 && seti_winograd_bt_is_f4x5(t.bt) != 0
        pairedOutputTransform = t.m == 4 && t.alpha == 8 && s.outChannels % 8 == 0 && seti_winograd_at_is_f4x5(t.at) != 0
        kernelTransposed = .allocate(capacity: t.alpha * t.alpha * s.inChannels * s.outChannels)
    }

    deinit {
        kernel.deallocate()
        kernelTransposed.deallocate()
        for w in workers { w.v.deallocate(); w.w.deallocate(); w.scratch.deallocate(); w.dkernel.deallocate() }
    }

    private func reserve(_ count: Int) {
        let s = shape
        while workers.count < count {
            workers.append((
                .allocate(capacity: samplesPerChunk * tiles * vTile), .allocate(capacity: samplesPerChunk * tiles * wTile),
                .allocate(capacity: positions * max(s.inChannels, s.outChannels)), .allocate(capacity: positions * s.inChannels * s.outChannels)))
        }
    }

    /// U = G g G^T for every channel pair, from the HWIO kernel (vectors over Cout).
    private func transformKernel(_ g: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let t = transform, s = shape, cio = s.inChannels * s.outChannels
        t.g.withUnsafeBufferPointer { gm in
            for cin in 0..<s.inChannels {
                // Input: r x r vectors of Cout at stride Cin * Cout; output: alpha^2 vectors at stride Cin * Cout.
                transformTile(kernel + cin * s.outChannels, outRowStride: t.alpha * cio, outStride: cio, g + cin * s.outChannels,
                              inRowStride: t.r * cio, inStride: cio, left: gm.baseAddress!, rowsOut: t.alpha, rowsIn: t.r, right: gm.baseAddress!, columnsOut: t.alpha, columnsIn: t.r,
                              channels: s.outChannels, scratch: scratch)
            }
        }
    }

    /// V for samples `first ..< first + count` of `inp` (NHWC), reading the zero border
    /// implicitly: tiles are copied into `padded` first.
    private func transformInput(_ v: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, first: Int, count: Int,
                                padded: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let t = transform, s = shape, cin = s.inChannels
        let paddedWidth = s.width + 2 * s.pad
        t.bt.withUnsafeBufferPointer { bt in
            for sample in 0..<count {
                padImage(padded, inp + (first + sample) * s.inputSize, s)
                for ty in 0..<tilesY {
                    for tx in 0..<tilesX {
                        let row = sample * tiles + ty * tilesX + tx
                        let corner = padded + ((ty * t.m) * paddedWidth + tx * t.m) * cin
                        if pairedInputTransform {
                            seti_winograd_input_transform(v + row * vTile, t.alpha * vPosition, vPosition, corner, paddedWidth * cin, cin,
                                                          bt.baseAddress!, 0, Int32(cin), 0, scratch)
                        } else {
                            transformTile(v + row * vTile, outRowStride: t.alpha * vPosition, outStride: vPosition,
                                          corner, inRowStride: paddedWidth * cin, inStride: cin, left: bt.baseAddress!, rowsOut: t.alpha, rowsIn: t.alpha,
                                          right: bt.baseAddress!, columnsOut: t.alpha, columnsIn: t.alpha, channels: cin, scratch: scratch)
                        }
                    }
                }
            }
        }
    }

    func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                 batch: Int, workspace: ConvWorkspace) {
        let t = transform, s = shape
        reserve(1)
        transformKernel(g, scratch: workers[0].scratch)
        let chunks = (batch + samplesPerChunk - 1) / samplesPerChunk
        Parallel.forEachWorker(chunks, reserving: { self.reserve($0); workspace.reserve(workers: $0) }) { worker, range in
            let (v, m, scratch, _) = workers[worker]
            for chunk in range {
                let first = chunk * samplesPerChunk, count = min(samplesPerChunk, batch - first), rows = count * tiles
                transformInput(v, inp, first: first, count: count, padded: workspace.padded[worker], scratch: scratch)
                for xi in 0..<positions {
                    BLAS.sgemm(m: rows, n: s.outChannels, k: s.inChannels, a: v + xi * vPosition, lda: vTile,
                               b: kernel + xi * s.inChannels * s.outChannels, ldb: s.outChannels,
                               c: m + xi * wPosition, ldc: wTile)
                }
                // Y = A^T M A per tile, plus the bias.
                t.at.withUnsafeBufferPointer { at in
                    for sample in 0..<count {
                        let o = out + (first + sample) * s.outputSize
                        for ty in 0..<tilesY {
                            for tx in 0..<tilesX {
                                let row = sample * tiles + ty * tilesX + tx
                                let corner = o + (ty * t.m * s.width + tx * t.m) * s.outChannels
                                if pairedOutputTransform {
                                    seti_winograd_output_transform(corner, s.width * s.outChannels, s.outChannels, m + row * wTile,
                                                                   t.alpha * wPosition, wPosition, at.baseAddress!, 0, Int32(s.outChannels),
                                                                   bias, scratch)
                                } else {
                                    transformTile(corner, outRowStride: s.width * s.outChannels, outStride: s.outChannels, m + row * wTile,
                                                  inRowStride: t.alpha * wPosition, inStride: wPosition, left: at.baseAddress!, rowsOut: t.m,
                                                  rowsIn: t.alpha, right: at.baseAddress!, columnsOut: t.m, columnsIn: t.alpha,
                                                  channels: s.outChannels, bias: bias, scratch: scratch)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Overwrites `dkernel`; writes `dinp` unless nil. The bias gradient is the caller's.
    /// Call after ``forward``, whose transformed kernel it reuses.
    func backward(_ dinp: UnsafeMutablePointer<Float>?, _ dkernel: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                  _ inp: UnsafePointer<Float>, batch: Int, workspace: ConvWorkspace) {
        let t = transform, s = shape, cin = s.inChannels, cout = s.outChannels, cio = cin * cout
        // U is the last forward's: the weights have not changed since (as for every layer's
        // cached activations). V is recomputed rather than kept: 4 times the input's size.
        // dV = W U^T runs as a plain product with U^T made once here: OpenBLAS's transposed
        // product was a third slower with these narrow (Cin-column) results.
        if dinp != nil {
            for xi in 0..<positions {
                seti_transpose(kernelTransposed + xi * cio, cin, kernel + xi * cio, cout, cin, cout)
            }
        }
        let chunks = (batch + samplesPerChunk - 1) / samplesPerChunk
        let used = Parallel.forEachWorker(chunks, reserving: { self.reserve($0); workspace.reserve(workers: $0) }) { worker, range in
            let (v, w, scratch, dk) = workers[worker]
            for (n, chunk) in range.enumerated() {
                let first = chunk * samplesPerChunk, count = min(samplesPerChunk, batch - first), rows = count * tiles
                transformInput(v, inp, first: first, count: count, padded: workspace.padded[worker], scratch: scratch)
                // W = A dY A^T per tile.
                a.withUnsafeBufferPointer { a in
                    for sample in 0..<count {
                        let d = dout + (first + sample) * s.outputSize
                        for ty in 0..<tilesY {
                            for tx in 0..<tilesX {
                                let row = sample * tiles + ty * tilesX + tx
                                let corner = d + (ty * t.m * s.width + tx * t.m) * cout
                                if pairedOutputTransform {
                                    seti_winograd_output_transform(w + row * wTile, t.alpha * wPosition, wPosition, corner, s.width * cout,
                                                                   cout, t.at, 1, Int32(cout), nil, scratch)
                                } else {
                                    transformTile(w + row * wTile, outRowStride: t.alpha * wPosition, outStride: wPosition, corner,
                                                  inRowStride: s.width * cout, inStride: cout, left: a.baseAddress!, rowsOut: t.alpha,
                                                  rowsIn: t.m, right: a.baseAddress!, columnsOut: t.alpha, columnsIn: t.m,
                                                  channels: cout, scratch: scratch)
                                }
                            }
                        }
                    }
                }
                for xi in 0..<positions {
                    // dU[xi] (+)= V[xi]^T W[xi]
                    BLAS.sgemm(transA: true, m: cin, n: cout, k: rows, a: v + xi * vPosition, lda: vTile,
                               b: w + xi * wPosition, ldb: wTile, beta: n == 0 ? 0 : 1, c: dk + xi * cio, ldc: cout)
                }
                guard let dinp else { continue }
                for xi in 0..<positions {
                    // dV[xi] = W[xi] U[xi]^T, into V (read above for the last time)
                    BLAS.sgemm(m: rows, n: cin, k: cout, a: w + xi * wPosition, lda: wTile,
                               b: kernelTransposed + xi * cio, ldb: cin, c: v + xi * vPosition, ldc: vTile)
                }
                // dd = B dV B^T per tile, summed into the padded image where tiles overlap.
                let padded = workspace.padded[worker], paddedWidth = s.width + 2 * s.pad
                b.withUnsafeBufferPointer { bm in
                    for sample in 0..<count {
                        padded.update(repeating: 0, count: s.paddedSize)
                        for ty in 0..<tilesY {
                            for tx in 0..<tilesX {
                                let row = sample * tiles + ty * tilesX + tx
                                let corner = padded + ((ty * t.m) * paddedWidth + tx * t.m) * cin
                                if pairedInputTransform {
                                    seti_winograd_input_transform(corner, paddedWidth * cin, cin, v + row * vTile, t.alpha * vPosition,
                                                                  vPosition, t.bt, 1, Int32(cin), 1, scratch)
                                } else {
                                    transformTile(corner, outRowStride: paddedWidth * cin, outStride: cin, v + row * vTile,
                                                  inRowStride: t.alpha * vPosition, inStride: vPosition, left: bm.baseAddress!,
                                                  rowsOut: t.alpha, rowsIn: t.alpha, right: bm.baseAddress!, columnsOut: t.alpha,
                                                  columnsIn: t.alpha, channels: cin, accumulate: true, scratch: scratch)
                                }
                            }
                        }
                        let di = dinp + (first + sample) * s.inputSize
                        for y in 0..<s.height {
                            copyShort(di + y * s.width * cin, padded + ((y + s.pad) * paddedWidth + s.pad) * cin, count: s.width * cin)
                        }
                    }
                }
            }
        }
        // Sum the workers' dU (worker 0's first), then dg = G^T dU G.
        let total = workers[0].dkernel, count = positions * cio
        for worker in 1..<used {
            let partial = workers[worker].dkernel
            forEachVector(0..<count, { i in store(load(total, i) + load(partial, i), total, i) }, tail: { i in total[i] += partial[i] })
        }
        gt.withUnsafeBufferPointer { gt in
            for c in 0..<cin {
                transformTile(dkernel + c * cout, outRowStride: t.r * cio, outStride: cio, total + c * cout,
                              inRowStride: t.alpha * cio, inStride: cio, left: gt.baseAddress!, rowsOut: t.r, rowsIn: t.alpha, right: gt.baseAddress!, columnsOut: t.r, columnsIn: t.alpha,
                              channels: cout, scratch: workers[0].scratch)
            }
        }
    }
}

/// Copies one NHWC image into `padded` with its zero border of `s.pad` pixels.
func padImage(_ padded: UnsafeMutablePointer<Float>, _ image: UnsafePointer<Float>, _ s: ConvShape) {
    let cin = s.inChannels, pad = s.pad, paddedRow = (s.width + 2 * pad) * cin
    zeroShort(padded, count: pad * paddedRow)
    for y in 0..<s.height {
        let dst = padded + (y + pad) * paddedRow
        zeroShort(dst, count: pad * cin)
        copyShort(dst + pad * cin, image + y * s.width * cin, count: s.width * cin)
        zeroShort(dst + (pad + s.width) * cin, count: pad * cin)
    }
    zeroShort(padded + (pad + s.height) * paddedRow, count: pad * paddedRow)
}
