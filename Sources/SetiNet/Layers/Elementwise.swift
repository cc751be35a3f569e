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
/// the scale). The draw for element j of sample s is a pure function of
/// (seed, stream, global sample index, j): the same sample gets the same mask whichever
/// rank holds it, so N ranks reproduce one process exactly.
func dropoutForward(
    _ out: UnsafeMutablePointer<Float>, _ mask: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    batch: Int, features: Int, rate: Float, seed: UInt64, stream: UInt64, firstSample: Int
) {
    let scale = 1 / (1 - rate)
    // One 64-bit hash gives two 32-bit uniforms; keep when u >= rate (as a 32-bit threshold).
    let threshold = UInt64(Double(rate) * 4_294_967_296.0)
    Parallel.forEachRange(batch, minimumPerThread: 1) { samples in
        for b in samples {
            let sampleKey = UInt64(firstSample + b) << 32
            let base = b * features
            var j = 0
            while j < features {
                let bits = CounterRandom.bits(seed: seed, stream: stream, index: sampleKey | UInt64(j >> 1))
                for half in 0..<min(2, features - j) {
                    let u = half == 0 ? bits & 0xFFFF_FFFF : bits >> 32
                    let m: Float = u >= threshold ? scale : 0
                    mask[base + j + half] = m
                    out[base + j + half] = inp[base + j + half] * m
                }
                j += 2
            }
        }
    }
}

func dropoutBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange(count) { range in
        forEachVector(range, { i in store(load(dout, i) * load(mask, i), dinp, i) }, tail: { i in dinp[i] = dout[i] * mask[i] })
    }
}
