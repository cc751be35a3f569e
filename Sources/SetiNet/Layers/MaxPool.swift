// MaxPool2D with a square window, stride = window, "valid" padding (Keras defaults):
// trailing rows and columns that do not fill a window are dropped.
// Shapes: inp (B, H, W, C), out (B, H/p, W/p, C) NHWC; argmax (B, H/p, W/p, C) holds the
// flat input index of each maximum, for backward. On ties the first element in
// row-major window order wins, as in TensorFlow.

func maxPoolForward(
    _ out: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>, _ inp: UnsafePointer<Float>,
    batch: Int, height: Int, width: Int, channels c: Int, pool p: Int
) {
    let oh = height / p, ow = width / p
    Parallel.forEachRange(batch * oh, minimumPerThread: 4) { rows in
        for row in rows {
            let b = row / oh, oy = row % oh
            for ox in 0..<ow {
                let o = ((b * oh + oy) * ow + ox) * c
                let first = ((b * height + oy * p) * width + ox * p) * c
                // 16 channels at a time, branch-free.
                var ch = 0
                while ch < c {
                    let lanes = min(16, c - ch)
                    if lanes == 16 {
                        var best = load(inp, first + ch)
                        var index = SIMD16<Int32>(repeating: Int32(first + ch)) &+ laneIndices
                        for dy in 0..<p {
                            for dx in 0..<p where dy != 0 || dx != 0 {
                                let i = ((b * height + oy * p + dy) * width + ox * p + dx) * c + ch
                                let v = load(inp, i)
                                let better = v .> best
                                best.replace(with: v, where: better)
                                index.replace(with: SIMD16<Int32>(repeating: Int32(i)) &+ laneIndices, where: better)
                            }
                        }
                        store(best, out, o + ch)
                        UnsafeMutableRawPointer(argmax + o + ch).storeBytes(of: index, as: SIMD16<Int32>.self)
                    } else {
                        for k in ch..<(ch + lanes) {
                            var best = inp[first + k], index = first + k
                            for dy in 0..<p {
                                for dx in 0..<p {
                                    let i = ((b * height + oy * p + dy) * width + ox * p + dx) * c + k
                                    if inp[i] > best { best = inp[i]; index = i }
                                }
                            }
                            out[o + k] = best
                            argmax[o + k] = Int32(index)
                        }
                    }
                    ch += lanes
                }
            }
        }
    }
}

private let laneIndices = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// Routes each output gradient to the input element that was the maximum, writing every
/// input element once, in order (0 where it was not a maximum): one streaming pass
/// instead of zeroing dinp and then scattering into it, which moves less memory. Rows of
/// input are split over threads.
func maxPoolBackward(
    _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ argmax: UnsafePointer<Int32>,
    batch: Int, height: Int, width: Int, channels c: Int, pool p: Int
) {
    let oh = height / p, ow = width / p
    Parallel.forEachRange(batch * height, minimumPerThread: 16) { rows in
        for row in rows {
            let b = row / height, y = row % height
            let rowStart = row * width * c
            guard y / p < oh else {  // below the last full window: not pooled
                (dinp + rowStart).update(repeating: 0, count: width * c)
                continue
            }
            for ox in 0..<ow {
                let o = ((b * oh + y / p) * ow + ox) * c
                for dx in 0..<p {
                    let first = rowStart + (ox * p + dx) * c
                    forEachVector(
                        0..<c,
                        { ch in
                            let mine = UnsafeRawPointer(argmax + o + ch).loadUnaligned(as: SIMD16<Int32>.self)
                                .== SIMD16<Int32>(repeating: Int32(first + ch)) &+ laneIndices
                            store(Vector().replacing(with: load(dout, o + ch), where: mine), dinp, first + ch)
                        },
                        tail: { ch in dinp[first + ch] = argmax[o + ch] == Int32(first + ch) ? dout[o + ch] : 0 })
                }
            }
            (dinp + rowStart + ow * p * c).update(repeating: 0, count: (width - ow * p) * c)  // right of the last window
        }
    }
}
