import CKernels
import SetiRandom
// ReLU and Dropout: element-wise layers over flat buffers of `count` floats.
// Written over SIMD16 vectors: these loops are memory-bound, and the vector form makes
// sure each element costs one load and one store.

typealias Vector = SIMD16<Float>

/// Applies `body` to 16-float vectors at offsets in `range` (a multiple of 16 wide apart
/// from its end) and to the scalar tail through `tail`.
@inline(__always)
func forEachVector(_ range: Range<Int>, _ body: (Int) -> Void, tail: (Int) -> Void) {
    var i = range.lowerBound
    while i + 16 <= range.upperBound { body(i); i += 16 }
    while i < range.upperBound { tail(i); i += 1 }
}

@inline(__always) func load(_ p: UnsafePointer<Float>, _ i: Int) -> Vector {
    UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self)
}

@inline(__always) func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vector.self)
}

/// Copies `count` floats with vector moves: for the short runs of im2col (5 floats in the
/// first SETI conv) and bias rows, where a call to memmove costs more than the copy.
@inline(__always)
func copyShort(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count { store(load(src, i), dst, i); i += 16 }
    while i + 4 <= count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
        i += 4
    }
    // Unrolled so that the compiler cannot turn the tail back into a memmove call.
    let rest = count - i
    if rest > 0 { dst[i] = src[i] }
    if rest > 1 { dst[i + 1] = src[i + 1] }
    if rest > 2 { dst[i + 2] = src[i + 2] }
}

/// Floats that ``copyInVectors(_:_:count:)`` may read and write past the end of a run;
/// buffers it copies into or out of keep this much slack after their last run.
let vectorCopySlack = 8

/// Copies `count` floats as whole 8-float vectors: up to 7 floats past the end of the run
/// are read and written too. Runs written in ascending order each overwrite the overrun
/// of the run before, so only the last one spills, into the buffer's slack. For runs
/// shorter than a vector (5 floats in the first SETI conv's im2col) one load and one store
/// replace copyShort's branchy tail, which dominated that im2col.
@inline(__always)
func copyInVectors(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i < count {
        UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
}

/// Zeroes `count` floats with vector stores (see copyShort).
@inline(__always)
func zeroShort(_ dst: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count { store(Vector(), dst, i); i += 16 }
    while i + 4 <= count { UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self); i += 4 }
    let rest = count - i
    if rest > 0 { dst[i] = 0 }
    if rest > 1 { dst[i + 1] = 0 }
    if rest > 2 { dst[i + 2] = 0 }
}

func reluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count) { range in
        forEachVector(
            range, { i in let v = load(inp, i); store(v.replacing(with: 0, where: v .< 0), out, i) },
            tail: { i in out[i] = max(inp[i], 0) })
    }
}

/// dinp = dout where the output was positive, else 0 (the derivative at 0 is taken as 0).
func reluBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ out: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count) { range in
        forEachVector(
            range,
            { i in store(Vector().replacing(with: load(dout, i), where: load(out, i) .> 0), dinp, i) },
            tail: { i in dinp[i] = out[i] > 0 ? dout[i] : 0 })
    }
}

/// Inverted dropout: each element is kept with probability 1 - rate and scaled by
/// 1 / (1 - rate), so inference needs no rescaling. `mask` receives that factor (0 or
/// the scale). Element j of sample s draws the 32-bit half j % 2 (low half first) of the
/// hash of (seed, stream, global sample index s, j / 2), and is kept when the top 23 bits
/// of that, read as a fraction, are at least `rate`. The draw is a pure function of the
/// global sample index: the same sample gets the same mask whichever rank holds it, so N
/// ranks reproduce one process exactly. The hashing runs in C (CKernels' dropout_mask.c),
/// where it can use the CPU's 64-bit vector multiplies.
func dropoutForward(
    _ out: UnsafeMutablePointer<Float>, _ mask: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    batch: Int, features: Int, rate: Float, seed: UInt64, stream: UInt64, firstSample: Int
) {
    let scale = 1 / (1 - rate), key = CounterRandom.streamKey(seed: seed, stream: stream)
    Parallel.forEachRange(batch, minimumPerThread: 1) { samples in
        for b in samples {
            let base = b * features
            seti_dropout_forward(out + base, mask + base, inp + base, features, rate, scale, key, UInt64(firstSample + b) << 32)
        }
    }
}

func dropoutBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count) { range in
        forEachVector(range, { i in store(load(dout, i) * load(mask, i), dinp, i) }, tail: { i in dinp[i] = dout[i] * mask[i] })
    }
}
