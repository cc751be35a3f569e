import Foundation

/// Counter-based randomness: every random number is a pure function of a key (seed,
/// stream, index), so a value never depends on which rank or thread draws it, nor on the
/// order of draws. SplitMix64's finalizer does the mixing.
public enum CounterRandom {
    /// A well-mixed 64-bit value for the key (`seed`, `stream`, `index`).
    @inline(__always)
    public static func bits(seed: UInt64, stream: UInt64, index: UInt64) -> UInt64 {
        mix(streamKey(seed: seed, stream: stream) ^ index)
    }

    /// The part of the key that a stream's draws share: bits(seed, stream, index) is
    /// SplitMix64's finalizer of streamKey ^ index (dropout's C kernel hashes from it).
    @inline(__always)
    public static func streamKey(seed: UInt64, stream: UInt64) -> UInt64 {
        mix(mix(seed &+ 0x9E37_79B9_7F4A_7C15) ^ stream)
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    @inline(__always)
    public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Float {
        Float(bits(seed: seed, stream: stream, index: index) >> 40) * (1.0 / 16_777_216.0)
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A sequential generator for places where a stream of draws is natural (data shuffles,
/// simulation). Same seed, same sequence, on every platform.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform01() -> Double { Double(next() >> 11) * 0x1p-53 }

    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform01()
    }

    /// A Gamma(shape, 1) draw for shape >= 1 (Marsaglia and Tsang 2000).
    public mutating func gamma(shape: Double) -> Double {
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = gaussian(), t = 1 + c * x
            guard t > 0 else { continue }
            let v = t * t * t, u = uniform01()
            if log(max(u, .leastNonzeroMagnitude)) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
    }

    /// A standard normal draw (Box-Muller).
    public mutating func gaussian() -> Double {
        let u1 = 1 - uniform01(), u2 = uniform01()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
