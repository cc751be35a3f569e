import Foundation
import SetiRandom

/// Complex time series in the ML4SETI file layout, for tests and examples: a complex
/// sinusoid whose frequency drifts (narrowband), changes its drift (narrowbanddrd) or
/// random-walks (squiggle), or no signal (noise), plus complex Gaussian noise, quantised
/// to signed 8 bits like the challenge's files. Frequencies are in FFT bins of a
/// 512-sample row, from -256 to 256, as the spectrogram's columns show them after the
/// shift (column = bin + 256).
public struct TimeSeriesSimulator: Sendable {
    /// Noise standard deviation of each of I and Q, in int8 steps.
    public var noise = 10.0
    /// The sinusoid's amplitude, in int8 steps.
    public var amplitude = 4.0
    public var seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// File `index` of class `kind`, and the signal's frequency at the start of each of the
    /// 384 rows (empty for noise).
    public func file(_ kind: SignalClass, index: Int) -> (file: ML4SETIFile, track: [Double]) {
        var rng = CounterRandom.generator(
            seed: seed, .timeSeries, index: UInt64(SignalClass.allCases.firstIndex(of: kind)!) << 32 | UInt64(index))
        let rows = ML4SETIFile.rows, length = ML4SETIFile.columns
        var start = rng.uniform(-150...150)
        var drift = 0.0, driftChange = 0.0, walk = 0.0
        switch kind {
        case .narrowband: drift = rng.uniform(-0.25...0.25)
        case .narrowbanddrd:
            drift = rng.uniform(-0.2...0.2)
            driftChange = (rng.next() & 1 == 0 ? 1 : -1) * rng.uniform(0.2...0.5) / Double(rows)
        case .squiggle: walk = rng.uniform(0.5...1.5)
        default: break
        }
        var track: [Double] = []
        var samples = [Int8](repeating: 0, count: 2 * rows * length)
        var phase = 0.0
        for r in 0..<rows {
            if kind != .noise {
                track.append(start)
                for k in 0..<length {
                    let i = r * length + k
                    let frequency = start + (drift + driftChange * Double(r)) * Double(k) / Double(length)
                    phase += 2 * .pi * frequency / Double(length)
                    samples[2 * i] = quantise(amplitude * cos(phase) + noise * rng.gaussian())
                    samples[2 * i + 1] = quantise(amplitude * sin(phase) + noise * rng.gaussian())
                }
                start += drift + driftChange * Double(r) + walk * rng.gaussian()
            } else {
                for k in 0..<(2 * length) { samples[2 * r * length + k] = quantise(noise * rng.gaussian()) }
            }
        }
        let uuid = String(format: "%08x-sim-%@-%06d", UInt32(truncatingIfNeeded: seed), kind.rawValue, index)
        return (ML4SETIFile(uuid: uuid, signalClass: kind, samples: samples), track)
    }

    private func quantise(_ x: Double) -> Int8 { Int8(max(-128, min(127, x.rounded()))) }
}
