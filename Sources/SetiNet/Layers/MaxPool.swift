// MaxPool2D with a square window, stride = window, "valid" padding (Keras defaults):
// trailing rows and columns that do not fill a window are dropped.
// Shapes: inp (B, H, W, C), out (B, H/p, W/p, C) NHWC; argmax (B, H/p, W/p, C) holds the
// flat input index of each maximum, for backward.

func maxPoolForward(
    _ out: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>, _ inp: UnsafePointer<Float>,
    batch: Int, height: Int, width: Int, channels c: Int, pool p: Int
) {
    let oh = height / p, ow = width / p
    for b in 0..<batch {
        for oy in 0..<oh {
            for ox in 0..<ow {
                let o = ((b * oh + oy) * ow + ox) * c
                let first = ((b * height + oy * p) * width + ox * p) * c
                for ch in 0..<c { out[o + ch] = inp[first + ch]; argmax[o + ch] = Int32(first + ch) }
                for dy in 0..<p {
                    for dx in 0..<p where dy != 0 || dx != 0 {
                        let i = ((b * height + oy * p + dy) * width + ox * p + dx) * c
                        for ch in 0..<c where inp[i + ch] > out[o + ch] {
                            out[o + ch] = inp[i + ch]
                            argmax[o + ch] = Int32(i + ch)
                        }
                    }
                }
            }
        }
    }
}

/// Routes each output gradient to the input element that was the maximum.
func maxPoolBackward(
    _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ argmax: UnsafePointer<Int32>,
    inputCount: Int, outputCount: Int
) {
    dinp.update(repeating: 0, count: inputCount)
    for o in 0..<outputCount { dinp[Int(argmax[o])] += dout[o] }
}
