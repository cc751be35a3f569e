import Foundation

/// How the public SETI data turn power into pixels, shared by everything that makes
/// spectrograms here (the simulator, ML4SETI files, observation windows for `scan`).
public enum SpectrogramEncoding {
    /// The background level of files converted from power (ML4SETI, filterbank, HDF5):
    /// the middle of the public data's range (the simulator draws it from 0.6...0.75).
    public static let standardBackground = 0.675

    /// Log power scaled so that the image's median maps to `background` and its maximum
    /// to 0 (dark), as the public data encode it; quantized to `levels` steps (255: k/255).
    /// `power` must be finite; values below 1e-6 count as 1e-6.
    ///
    /// The logarithm is monotonic, so the median and maximum are taken on the power
    /// itself, and a pixel's level k/255 (k = round(255 (top - log10 p) / (top - bottom)))
    /// is found by comparing p with the 255 powers where the level steps, not by taking a
    /// logarithm of every pixel.
    public static func encode(_ power: [Double], into out: UnsafeMutablePointer<Float>, background: Double = standardBackground, levels: Int = 255) {
        encode(power, rowRepeats: 1, width: power.count, into: out, background: background, levels: levels)
    }

    /// ``encode(_:into:background:levels:)`` of an image whose rows are each `rowRepeats`
    /// times the same (`power`'s rows of `width`, stretched in time as `scan` stretches a
    /// short observation): the same pixels, found once per distinct row. Each value
    /// appears `rowRepeats` times, so the stretched image's k-th smallest value is the
    /// distinct values' (k / rowRepeats)-th.
    public static func encode(_ power: [Double], rowRepeats: Int, width: Int, into out: UnsafeMutablePointer<Float>,
                              background: Double = standardBackground, levels: Int = 255) {
        precondition(rowRepeats >= 1 && width >= 1 && power.count % width == 0)
        var scratch = power.map { max($0, 1e-6) }
        let largest = scratch.max()!
        let median = log10(orderStatistic(&scratch, scratch.count * rowRepeats / 2 / rowRepeats))
        // A floor on the range keeps noise-only images from being stretched to full contrast.
        let top = max(log10(largest), median + 0.35)
        let bottom = median - (1 - background) / background * (top - median)
        let range = top - bottom
        let rows = power.count / width
        // Each distinct row's pixels, found once, then copied to each of the row's repeats.
        func encodeRows(_ level: (Double) -> Float) {
            for row in 0..<rows {
                let first = out + row * rowRepeats * width
                for column in 0..<width { first[column] = level(power[row * width + column]) }
                for r in 1..<rowRepeats { (first + r * width).update(from: first, count: width) }
            }
        }
        guard levels == 255 else {
            encodeRows { p in
                let pixel = min(1, max(0, (top - log10(max(p, 1e-6))) / range))
                return pixelValue(UInt8(((pixel * Double(levels)).rounded() / Double(levels) * 255).rounded()))
            }
            return
        }
        // steps[j - 1]: the largest power of level j or more (falling with j).
        let steps = (1...255).map { j in pow(10, top - (Double(j) - 0.5) / 255 * range) }
        steps.withUnsafeBufferPointer { steps in
            Self.levelValues.withUnsafeBufferPointer { values in
                encodeRows { raw in
                    let p = max(raw, 1e-6)
                    // The level, the count of steps at or above p, by halving 256 without
                    // branches (a data-dependent branch a halving mispredicts half the time).
                    var level = 0
                    level += p <= steps[level + 127] ? 128 : 0
                    level += p <= steps[level + 63] ? 64 : 0
                    level += p <= steps[level + 31] ? 32 : 0
                    level += p <= steps[level + 15] ? 16 : 0
                    level += p <= steps[level + 7] ? 8 : 0
                    level += p <= steps[level + 3] ? 4 : 0
                    level += p <= steps[level + 1] ? 2 : 0
                    level += p <= steps[level] ? 1 : 0
                    return values[level]
                }
            }
        }
    }

    /// k / 255 for k = 0...255, as stored.
    private static let levelValues = (0...255).map { pixelValue(UInt8($0)) }

    /// The `k`-th smallest of `values` (what `values.sorted()[k]` is), found by selection
    /// in linear time (Hoare's quickselect, median-of-three pivots); `values` is reordered.
    public static func orderStatistic(_ values: inout [Double], _ k: Int) -> Double {
        precondition(values.indices.contains(k))
        var low = 0, high = values.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            // Median of three as the pivot: sorted data stay linear.
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while pivot < values[j] { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { high = j } else if k >= i { low = i } else { return values[k] }
        }
        return values[k]
    }

    /// The mean of each `rowFactor` x `columnFactor` block of a `height` x `width` image
    /// (row-major): a (height / rowFactor) x (width / columnFactor) image.
    public static func averageBlocks(_ values: [Double], height: Int, width: Int, rowFactor: Int, columnFactor: Int) -> [Double] {
        let h = height / rowFactor, w = width / columnFactor
        var out = [Double](repeating: 0, count: h * w)
        for r in 0..<(h * rowFactor) {
            for c in 0..<(w * columnFactor) { out[(r / rowFactor) * w + c / columnFactor] += values[r * width + c] }
        }
        let scale = 1 / Double(rowFactor * columnFactor)
        return out.map { $0 * scale }
    }
}
