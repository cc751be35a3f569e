import Foundation
import SetiData

/// A narrowband track in one window of an observation: where it starts, how it drifts and
/// how far it stands above the noise, measured on the observation's own power (time steps
/// as recorded, not the model's stretched rows).
public struct Track: Sendable, Equatable {
    /// Ascending channel of the track at the window's first time step (fractional).
    public var startChannel: Double
    /// Drift in channels per time step (positive: rising frequency).
    public var channelsPerStep: Double
    /// Integrated signal-to-noise along the track: the sum over time steps of the track's
    /// power above each step's median, over the noise of that sum (each step's robust
    /// standard deviation, added in quadrature), as turboSETI integrates along a drift.
    public var snr: Double

    public init(startChannel: Double, channelsPerStep: Double, snr: Double) {
        (self.startChannel, self.channelsPerStep, self.snr) = (startChannel, channelsPerStep, snr)
    }

    /// Finds the brightest straight track in `steps` x `width` power values (row-major,
    /// time steps down), as a de-Doppler search does: each step's median is subtracted,
    /// then the excess is summed along every line that crosses the window, for every
    /// drift from `-width` to `width` channels over the observation in steps of one
    /// channel over the observation; the line with the greatest sum is the track. Lines
    /// that enter or leave through the window's sides count, so a window that sees only
    /// part of a track still measures its drift, and its start (outside the window then)
    /// agrees with the neighbouring window's.
    public static func find(in power: [Float], steps: Int, width: Int) -> Track {
        precondition(power.count >= steps * width && steps > 0 && width > 0)
        var excess = [Double](repeating: 0, count: steps * width)
        var variance = 0.0
        for t in 0..<steps {
            let row = power[(t * width)..<((t + 1) * width)].map(Double.init)
            let median = Self.median(row)
            let deviation = 1.4826 * Self.median(row.map { abs($0 - median) })
            variance += deviation * deviation
            for c in 0..<width { excess[t * width + c] = row[c] - median }
        }
        var best = (sum: -Double.infinity, start: 0, drift: 0)
        excess.withUnsafeBufferPointer { e in
            for drift in -width...width {  // channels over the whole observation
                for start in min(0, -drift)..<max(width, width - drift) {
                    var sum = 0.0
                    for t in 0..<steps {
                        // Nearest channel: start + drift t / steps, in whole-number arithmetic.
                        let offset = (2 * drift * t + (drift >= 0 ? steps : -steps)) / (2 * steps)
                        let c = start + offset
                        if c >= 0 && c < width { sum += e[t * width + c] }
                    }
                    if sum > best.sum { best = (sum, start, drift) }
                }
            }
        }
        // Refined below a channel: each step's excess-weighted centre within two channels
        // of the line, and a weighted least-squares line through those centres.
        var points: [(t: Double, c: Double, w: Double)] = []
        for t in 0..<steps {
            let centre = best.start + (2 * best.drift * t + (best.drift >= 0 ? steps : -steps)) / (2 * steps)
            guard (0..<width).contains(centre) else { continue }
            let near = max(0, centre - 2)...min(width - 1, centre + 2)
            let weights = near.map { max(0, excess[t * width + $0]) }
            let total = weights.reduce(0, +)
            if total > 0 { points.append((Double(t), zip(near, weights).map { Double($0) * $1 }.reduce(0, +) / total, total)) }
        }
        var start = Double(best.start), slope = Double(best.drift) / Double(steps)
        let sw = points.map(\.w).reduce(0, +)
        if points.count >= 2, sw > 0 {
            let mt = points.map { $0.w * $0.t }.reduce(0, +) / sw, mc = points.map { $0.w * $0.c }.reduce(0, +) / sw
            let stt = points.map { $0.w * ($0.t - mt) * ($0.t - mt) }.reduce(0, +)
            if stt > 0 {
                let refined = points.map { $0.w * ($0.t - mt) * ($0.c - mc) }.reduce(0, +) / stt
                // Kept only when it agrees with the search (noise can pull a faint track's centres).
                if abs(refined - slope) <= 1 / Double(steps) { (slope, start) = (refined, mc - refined * mt) }
            }
        }
        let noise = variance.squareRoot()
        return Track(startChannel: start, channelsPerStep: slope, snr: noise > 0 && best.sum.isFinite ? best.sum / noise : 0)
    }

    /// The median by selection (the encoding's), the mean of the middle two for an even
    /// count: after selecting the upper one, the lower is the largest value before it.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        var scratch = values
        let upper = SpectrogramEncoding.orderStatistic(&scratch, values.count / 2)
        guard values.count % 2 == 0 else { return upper }
        return (scratch[0..<(values.count / 2)].max()! + upper) / 2
    }
}

/// A window the model called a signal, with the track measured in it.
public struct Detection: Sendable, Equatable {
    public var window: Int
    public var classIndex: Int
    /// 1 - p(noise).
    public var probability: Double
    /// The window's first ascending channel and first time step.
    public var channel: Int
    public var timeStep: Int
    /// The track, its start channel counted from the window's first channel.
    public var track: Track

    public init(window: Int, classIndex: Int, probability: Double, channel: Int, timeStep: Int, track: Track) {
        (self.window, self.classIndex, self.probability, self.channel, self.timeStep, self.track) = (window, classIndex, probability, channel, timeStep, track)
    }

    /// The track's channel at the window's first step, counted over the whole band.
    public var absoluteStartChannel: Double { Double(channel) + track.startChannel }
}

/// Hits: detections of the same track merged, as turboSETI reports one hit per drifting
/// signal. Overlapping windows see a track near their shared edge twice; two detections
/// are one hit when they share a time block, their windows overlap in frequency, and
/// their tracks start within `tolerance` channels of each other. The hit keeps the
/// detection with the strongest track (the window that sees all of it), with its class
/// and probabilities, and counts the windows merged.
public enum Hits {
    public struct Hit: Sendable, Equatable {
        public var best: Detection
        public var windows: Int
    }

    public static func merge(_ detections: [Detection], windowWidth: Int, tolerance: Double = 4) -> [Hit] {
        // Strongest track first, so each hit is represented by the window that sees the
        // most of it; ties broken by probability, then window index, which keeps the
        // result independent of the rank count.
        let ordered = detections.sorted { ($0.track.snr, $0.probability, -$0.window) > ($1.track.snr, $1.probability, -$1.window) }
        var hits: [Hit] = []
        for detection in ordered {
            if let i = hits.firstIndex(where: { hit in
                hit.best.timeStep == detection.timeStep
                    && abs(hit.best.channel - detection.channel) < windowWidth
                    && abs(hit.best.absoluteStartChannel - detection.absoluteStartChannel) <= tolerance
            }) {
                hits[i].windows += 1
            } else {
                hits.append(Hit(best: detection, windows: 1))
            }
        }
        return hits
    }
}
