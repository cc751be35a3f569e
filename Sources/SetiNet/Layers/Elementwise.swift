// ReLU and Dropout: element-wise layers over flat buffers of `count` floats.

func reluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = max(inp[i], 0) }
}

/// dinp = dout where the output was positive, else 0 (the derivative at 0 is taken as 0).
func reluBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ out: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { dinp[i] = out[i] > 0 ? dout[i] : 0 }
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
    for b in 0..<batch {
        let sampleKey = UInt64(firstSample + b) << 32
        let base = b * features
        for j in 0..<features {
            let u = CounterRandom.uniform(seed: seed, stream: stream, index: sampleKey | UInt64(j))
            mask[base + j] = u >= rate ? scale : 0
            out[base + j] = inp[base + j] * mask[base + j]
        }
    }
}

func dropoutBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { dinp[i] = dout[i] * mask[i] }
}
