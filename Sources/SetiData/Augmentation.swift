import SetiRandom

/// Training-time augmentation in the manner of Keras's ImageDataGenerator, for
/// spectrograms (time down the rows, frequency along the columns):
/// - horizontal flip (the seed recipe's): mirror the frequency axis, probability 1/2;
/// - vertical flip: reverse time, probability 1/2;
/// - frequency shift: move the spectrum by a whole number of channels drawn uniformly
///   from +-`frequencyShift` x width, filling the vacated channels by wrapping around,
///   repeating the edge channel (Keras's "nearest") or with a constant;
/// - contrast scaling: every pixel's distance from the image's mean level multiplied by a
///   factor drawn uniformly from 1 +- `intensityScale` (the public encoding fixes the
///   median and the darkest pixel per image, so a gain in power is not a change of level;
///   a different dynamic range of the log power is a change of contrast), clamped to [0, 1];
/// - the other plausible encoding: with probability `minMaxEncoding`, the image stretched so
///   its lightest pixel is 1 and its darkest 0, which is the per-image min-max encoding of
///   the same log power (the public data's exact encoding is not documented; the median-
///   anchored one maps the median to about 0.675 instead);
/// - additive Gaussian noise of standard deviation `noise`, clamped to [0, 1].
///
/// Draws are a pure function of (seed, epoch, sample index), so a sample is augmented the
/// same way whichever rank draws it and whatever the rank count.
public struct Augmentation: Codable, Hashable, Sendable {
    public enum Fill: String, Codable, Hashable, Sendable, CaseIterable {
        case wrap, nearest, constant
    }

    public var horizontalFlip = false
    public var verticalFlip = false
    /// Largest shift as a fraction of the width (Keras's width_shift_range); 0 = off.
    public var frequencyShift = 0.0
    public var fill = Fill.wrap
    /// Value for `fill == .constant` (the background level of the public data is ~0.6-0.75).
    public var fillValue: Float = 0.7
    public var noise: Float = 0
    /// Largest relative change of contrast about the image's mean; 0 = off.
    public var intensityScale: Float = 0
    /// Probability of re-encoding a sample min-max (see the type's notes); 0 = off.
    public var minMaxEncoding: Float = 0

    public init(horizontalFlip: Bool = false, verticalFlip: Bool = false, frequencyShift: Double = 0,
                fill: Fill = .wrap, fillValue: Float = 0.7, noise: Float = 0, intensityScale: Float = 0, minMaxEncoding: Float = 0) {
        self.horizontalFlip = horizontalFlip
        self.verticalFlip = verticalFlip
        self.frequencyShift = frequencyShift
        self.fill = fill
        self.fillValue = fillValue
        self.noise = noise
        self.intensityScale = intensityScale
        self.minMaxEncoding = minMaxEncoding
    }

    /// No augmentation at all.
    public static let none = Augmentation()

    public var isIdentity: Bool { !horizontalFlip && !verticalFlip && frequencyShift == 0 && noise == 0 && intensityScale == 0 && minMaxEncoding == 0 }

    /// Writes the augmented version of `image` (height x width) into `out`.
    public func apply(
        _ image: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, height: Int, width: Int,
        seed: UInt64, epoch: Int, sample: Int
    ) {
        var rng = CounterRandom.generator(seed: seed, .augmentation(epoch: epoch), index: UInt64(sample))
        let flipH = horizontalFlip && rng.next() & 1 == 1
        let flipV = verticalFlip && rng.next() & 1 == 1
        let maxShift = Int((frequencyShift * Double(width)).rounded(.down))
        let shift = maxShift > 0 ? Int(rng.next() % UInt64(2 * maxShift + 1)) - maxShift : 0
        for t in 0..<height {
            let src = image + (flipV ? height - 1 - t : t) * width, dst = out + t * width
            for f in 0..<width {
                var g = f - shift  // out[f] = in[f - shift], in the (possibly flipped) frame
                if g < 0 || g >= width {
                    switch fill {
                    case .wrap: g = (g % width + width) % width
                    case .nearest: g = min(width - 1, max(0, g))
                    case .constant: dst[f] = fillValue; continue
                    }
                }
                dst[f] = src[flipH ? width - 1 - g : g]
            }
        }
        if intensityScale > 0 {
            // Drawn only when on, so runs without it keep their random streams.
            let factor = 1 + intensityScale * Float(rng.uniform(-1...1))
            let count = height * width
            var sum = 0.0
            for i in 0..<count { sum += Double(out[i]) }
            let mean = Float(sum / Double(count))
            for i in 0..<count { out[i] = min(1, max(0, mean + factor * (out[i] - mean))) }
        }
        if minMaxEncoding > 0 && Float(rng.uniform01()) < minMaxEncoding {
            let count = height * width
            var low: Float = 1, high: Float = 0
            for i in 0..<count { low = min(low, out[i]); high = max(high, out[i]) }
            if high > low {
                let scale = 1 / (high - low)
                for i in 0..<count { out[i] = (out[i] - low) * scale }
            }
        }
        if noise > 0 {
            for i in 0..<(height * width) { out[i] = min(1, max(0, out[i] + noise * Float(rng.gaussian()))) }
        }
    }
}
