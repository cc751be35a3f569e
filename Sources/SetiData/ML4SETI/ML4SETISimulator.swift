import Foundation
import SetiRandom

/// The ML4SETI code challenge's simulator (setiQuest's seti_signal_sim, version 14) re-derived
/// from its published signal definitions: a complex int8 time series of 384 x 512 samples,
/// Gaussian noise plus a unit phasor whose frequency drifts, changes its drift, random-walks
/// or switches on and off, as the challenge's `.dat` files hold them. Its spectrograms go
/// through the `.dat` reader's own path (``ML4SETIFile``: FFT of each 512-sample row, 6 x 4
/// block means, the public encoding), so a simulated sample and a challenge file are read alike.
///
/// The physics, per complex sample i (seti_signal_sim's DataSimulator):
/// - noise: I and Q each Gaussian with standard deviation `sigmaN` = 13 int8 steps (the
///   challenge also used recordings of the Sun as noise; their level is not published,
///   so the noise level is drawn from `noiseGain` x 13 while the signal keeps 13 x SNR);
/// - signal: amplitude SNR x 13 on a unit phasor; its phase advances by the frequency
///   `phaseStep` (radians per sample, drawn as -120...120 degrees), and the frequency itself
///   turns by `drift` / 1024 radians per sample, by `driftRateDerivative` / 1e6 / 1024 more
///   each sample (narrowbanddrd), and by a uniform +-`squiggle` random step (squiggle);
/// - amplitude modulation: a square wave of `period` samples on for `duty` of it, or one
///   bright-pixel burst of `duty` x 196,608 samples, both starting at a phase of 0.07...0.93;
/// - the signal switches off and on where its frequency crosses the Nyquist limit (the
///   original's "anti-aliasing filter");
/// - I and Q clipped to +-127 and truncated towards zero, as Java's `(byte)` cast does.
///
/// Every sample is a pure function of (seed, stream, index).
public struct ML4SETISimulator: Sendable {
    /// The noise standard deviation the signal amplitude is measured in (`sigmaN`).
    public static let sigmaN = 13.0
    /// Samples of one "raster line" of the archive files the challenge mimicked; the
    /// modulation periods are drawn in these units.
    static let rasterLine = 6144.0

    public var seed: UInt64
    /// The noise level relative to `sigmaN`, drawn per file (see the type's notes).
    public var noiseGain: ClosedRange<Double> = 0.8...1.25
    /// Replaces every class's published SNR range when set (tests, sensitivity studies).
    public var snr: ClosedRange<Double>?
    /// The share of squiggle, narrowband and narrowbanddrd files drawn from the "basic"
    /// data class's ranges (the challenge's 4-class set: brighter, slower and gentler
    /// curves, wilder squiggles) instead of the "primary" ones; both are published.
    public var basicShare = 0.5

    /// The challenge's data classes, as `simulate --ml4seti-set` names them.
    public enum DataClass: String, CaseIterable, Sendable {
        /// The 4-class "basic" set's ranges for squiggle, narrowband and narrowbanddrd.
        case basic
        /// The "primary" set's ranges (the Kaggle copy's).
        case primary
        /// Half of each: what training draws, so the model holds on both.
        case both

        public var basicShare: Double {
            switch self {
            case .basic: return 1
            case .primary: return 0
            case .both: return 0.5
            }
        }
    }

    public init(seed: UInt64) { self.seed = seed }

    /// One file's signal: what seti_signal_sim's signal definitions draw.
    public struct Signal: Sendable, Equatable {
        public enum Modulation: Sendable, Equatable {
            case none
            /// On while (i + period - phase x period) mod period <= duty x period.
            case square(period: Double, duty: Double)
            /// On for i in [phase x total, (phase + duty) x total] of the file's `total` samples.
            case brightPixel(duty: Double)
        }
        public var signalClass: SignalClass
        public var noiseSigma = ML4SETISimulator.sigmaN
        public var snr = 0.0
        /// Frequency at the start, radians per sample (-pi...pi: the whole band).
        public var phaseStep = 0.0
        public var drift = 0.0
        public var driftRateDerivative = 0.0
        public var squiggle = 0.0
        public var modulation = Modulation.none
        /// Where the modulation starts, a fraction of its period (0.07...0.93).
        public var modulationPhase = 0.5
    }

    /// One class's published ranges (seti_signal_sim's `spark/signaldef`).
    struct Definition {
        var snr: ClosedRange<Double>
        var drift: ClosedRange<Double>
        /// Its magnitude; the sign is drawn with even odds.
        var driftRateDerivative: ClosedRange<Double>?
        var squiggle: ClosedRange<Double>?
        /// Square-wave period (samples) and duty cycle.
        var square: (period: ClosedRange<Double>, duty: ClosedRange<Double>)?
        var brightPixelDuty: ClosedRange<Double>?
    }

    /// The "primary" data class's definition of `kind` (nil for noise).
    static func primary(_ kind: SignalClass) -> Definition? {
        let drift = -0.0075...0.0075, pulses = (5 * rasterLine)...(15 * rasterLine)
        switch kind {
        case .noise: return nil
        case .narrowband: return Definition(snr: 0.05...0.4, drift: drift)
        case .narrowbanddrd: return Definition(snr: 0.05...0.4, drift: drift, driftRateDerivative: 0.01...0.08)
        case .squiggle: return Definition(snr: 0.1...0.5, drift: drift, squiggle: 0.0001...0.005)
        case .brightpixel: return Definition(snr: 0.05...0.75, drift: drift, brightPixelDuty: (0.25 / 32)...(1.0 / 32))
        case .squarepulsednarrowband: return Definition(snr: 0.05...0.4, drift: drift, square: (pulses, 0.05...0.9))
        case .squigglesquarepulsednarrowband:
            return Definition(snr: 0.1...0.5, drift: drift, squiggle: 0.0001...0.005, square: (pulses, 0.15...0.8))
        }
    }

    /// The "basic" data class's definition of `kind` (the 4-class set; nil where it has none).
    static func basic(_ kind: SignalClass) -> Definition? {
        let drift = -0.004...0.004
        switch kind {
        case .narrowband: return Definition(snr: 0.2...0.3, drift: drift)
        case .narrowbanddrd: return Definition(snr: 0.2...0.3, drift: drift, driftRateDerivative: 0.005...0.01)
        case .squiggle: return Definition(snr: 0.4...0.5, drift: drift, squiggle: 0.001...0.01)
        default: return nil
        }
    }

    /// A signal of `kind` drawn from the published ranges: the "primary" data class's, or
    /// for a `basicShare` of the classes the basic set has, the "basic" one's.
    public func drawSignal(_ kind: SignalClass, rng: inout SplitMix64) -> Signal {
        var s = Signal(signalClass: kind)
        s.noiseSigma = Self.sigmaN * rng.uniform(noiseGain)
        s.phaseStep = rng.uniform(-120...120) / 180 * .pi
        s.modulationPhase = 0.07 + 0.86 * rng.uniform01()
        let basic = rng.uniform01() < basicShare
        guard let definition = (basic ? Self.basic(kind) : nil) ?? Self.primary(kind) else { return s }
        s.snr = rng.uniform(snr ?? definition.snr)
        s.drift = rng.uniform(definition.drift)
        if let range = definition.driftRateDerivative { s.driftRateDerivative = rng.uniform(range) * (rng.uniform01() > 0.5 ? -1 : 1) }
        if let range = definition.squiggle { s.squiggle = rng.uniform(range) }
        if let square = definition.square { s.modulation = .square(period: rng.uniform(square.period), duty: rng.uniform(square.duty)) }
        if let duty = definition.brightPixelDuty { s.modulation = .brightPixel(duty: rng.uniform(duty)) }
        return s
    }

    /// File `index` of class `kind` in stream `stream`: the time series and the signal's
    /// frequency at the start of each of the 384 rows, in FFT bins from the band's centre
    /// (empty for noise).
    public func file(_ kind: SignalClass, index: Int, stream: RandomStream = .timeSeries) -> (file: ML4SETIFile, track: [Double], signal: Signal) {
        var rng = CounterRandom.generator(seed: seed, stream, index: UInt64(SignalClass.allCases.firstIndex(of: kind)!) << 32 | UInt64(index))
        let signal = drawSignal(kind, rng: &rng)
        let (samples, track) = Self.timeSeries(signal, rng: &rng)
        let uuid = String(format: "%08x-sim-%@-%06d", UInt32(truncatingIfNeeded: seed), kind.rawValue, index)
        return (ML4SETIFile(uuid: uuid, signalClass: kind, samples: samples), track, signal)
    }

    /// The int8 time series of `signal` (interleaved I, Q) and its row-start frequencies.
    static func timeSeries(_ signal: Signal, rng: inout SplitMix64) -> (samples: [Int8], track: [Double]) {
        let rows = ML4SETIFile.rows, length = ML4SETIFile.columns, total = rows * length
        var samples = [Int8](repeating: 0, count: 2 * total)
        var track: [Double] = []
        let hasSignal = signal.signalClass != .noise
        // The phasor's state, as the original keeps it: frequency (cosPhi, sinPhi) and value.
        var cosPhi = cos(signal.phaseStep), sinPhi = sin(signal.phaseStep)
        var sinDrift = max(-1, min(1, signal.drift / 1024)), cosDrift = (1 - sinDrift * sinDrift).squareRoot()
        var x = rng.gaussian(), y = rng.gaussian()
        var on = hasSignal, previousSinSign = sinPhi > 0
        let amplitude = signal.snr * ML4SETISimulator.sigmaN
        let driftChange = signal.driftRateDerivative / 1_000_000 / 1024
        let noise = Float(signal.noiseSigma)
        let gaussians = NormalTable.shared
        var bits: UInt64 = 0
        samples.withUnsafeMutableBufferPointer { out in
            for i in 0..<total {
                if i & 1 == 0 { bits = rng.next() }  // 32 bits a sample
                let noiseX = noise * gaussians.value(UInt16(truncatingIfNeeded: bits)), noiseY = noise * gaussians.value(UInt16(truncatingIfNeeded: bits >> 16))
                bits >>= 32
                var re = Double(noiseX), im = Double(noiseY)
                if hasSignal && on {
                    var gain = amplitude
                    switch signal.modulation {
                    case .none: break
                    case .square(let period, let duty):
                        if (Double(i) + period - signal.modulationPhase * period).truncatingRemainder(dividingBy: period) > period * duty { gain = 0 }
                    case .brightPixel(let duty):
                        let start = signal.modulationPhase * Double(total)
                        if Double(i) < start || Double(i) > start + Double(total) * duty { gain = 0 }
                    }
                    re += x * gain
                    im += y * gain
                }
                out[2 * i] = Int8(max(-127, min(127, re)).rounded(.towardZero))
                out[2 * i + 1] = Int8(max(-127, min(127, im)).rounded(.towardZero))
                guard hasSignal else { continue }
                if i % length == 0 { track.append(atan2(sinPhi, cosPhi) * Double(length) / (2 * .pi)) }
                if driftChange != 0 {
                    sinDrift = max(-1, min(1, sinDrift + driftChange))
                    cosDrift = (1 - sinDrift * sinDrift).squareRoot()
                }
                (cosPhi, sinPhi) = (cosPhi * cosDrift - sinPhi * sinDrift, cosPhi * sinDrift + sinPhi * cosDrift)
                if signal.squiggle > 0 {
                    let sinDelta = 2 * (rng.uniform01() - 0.5) * signal.squiggle
                    let cosDelta = (1 - sinDelta * sinDelta).squareRoot()
                    (cosPhi, sinPhi) = (cosPhi * cosDelta - sinPhi * sinDelta, cosPhi * sinDelta + sinPhi * cosDelta)
                }
                var magnitude = (cosPhi * cosPhi + sinPhi * sinPhi).squareRoot()
                cosPhi /= magnitude
                sinPhi /= magnitude
                (x, y) = (x * cosPhi - y * sinPhi, x * sinPhi + y * cosPhi)
                magnitude = (x * x + y * y).squareRoot()
                x /= magnitude
                y /= magnitude
                if cosPhi < -0.99 && previousSinSign != (sinPhi > 0) { on.toggle() }
                previousSinSign = sinPhi > 0
            }
        }
        return (samples, track)
    }
}

/// Standard normal values at the 65,536 quantiles (k + 1/2) / 65,536: a 16-bit random
/// index gives a Gaussian draw (tails beyond 4.3 sigma are cut, far below what 8-bit
/// samples resolve), four per 64-bit draw, instead of a logarithm and a sine each.
final class NormalTable: Sendable {
    static let shared = NormalTable()
    let values: [Float]

    private init() {
        values = (0..<65_536).map { k in
            let p = (Double(k) + 0.5) / 65_536
            var lo = -9.0, hi = 9.0
            for _ in 0..<48 {
                let mid = 0.5 * (lo + hi)
                if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
            }
            return Float(0.5 * (lo + hi))
        }
    }

    @inline(__always) func value(_ index: UInt16) -> Float { values[Int(index)] }
}
