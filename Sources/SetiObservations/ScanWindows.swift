import Foundation
import SetiData

/// The windows `seti-dist scan` classifies: the model's 64 x 128 input slid over an
/// observation, across frequency with overlap, and down time when the file is longer.
///
/// Time: an observation of at least 64 steps is cut into 64-step blocks (the last one
/// aligned to the end); a shorter one (Breakthrough Listen's fine-channel products hold
/// 16 steps of about 18 s) is stretched to 64 rows, each step repeated (nearest
/// neighbour), so a drift of one channel per step becomes one channel per 4 rows.
/// Frequency: 128-channel windows every `128 - overlap` channels, the last aligned to
/// the top of the band. Each window is encoded like the public data
/// (``SpectrogramEncoding``).
public struct ScanWindows: Sendable {
    public static let height = 64, width = 128
    /// Fewer steps than this, stretched to 64 rows, show no drift a model could read (one
    /// step repeated is a band of vertical stripes: every window looked like a signal).
    public static let minimumTimeSteps = 8

    public struct Window: Sendable, Equatable {
        /// First ascending channel and first time step of the window.
        public var channel: Int
        public var timeStep: Int
    }

    public let channels: Int
    public let timeSteps: Int
    public let overlap: Int
    /// Window starts along frequency and time.
    public let channelStarts: [Int]
    public let timeStarts: [Int]

    public init(channels: Int, timeSteps: Int, overlap: Int, file: String) throws {
        guard channels >= Self.width else { throw ObservationError(file: file, "\(channels) channels; scan needs at least \(Self.width)") }
        guard timeSteps >= Self.minimumTimeSteps else {
            throw ObservationError(file: file, "\(timeSteps) time step\(timeSteps == 1 ? "" : "s"); scan needs at least \(Self.minimumTimeSteps) (Breakthrough Listen's fine-channel products hold 16)")
        }
        guard (0..<Self.width).contains(overlap) else { throw ObservationError(file: file, "overlap \(overlap): allowed 0...\(Self.width - 1) channels") }
        self.channels = channels
        self.timeSteps = timeSteps
        self.overlap = overlap
        channelStarts = Self.starts(length: channels, window: Self.width, stride: Self.width - overlap)
        timeStarts = timeSteps <= Self.height ? [0] : Self.starts(length: timeSteps, window: Self.height, stride: Self.height)
    }

    /// 0, stride, 2 stride, ..., with the last window ending at `length`.
    private static func starts(length: Int, window: Int, stride: Int) -> [Int] {
        var starts = Array(Swift.stride(from: 0, through: length - window, by: stride))
        if starts.last! + window < length { starts.append(length - window) }
        return starts
    }

    public var count: Int { channelStarts.count * timeStarts.count }

    /// Window `i`: frequency-major (all time blocks of the lowest band first).
    public func window(_ i: Int) -> Window {
        Window(channel: channelStarts[i / timeStarts.count], timeStep: timeStarts[i % timeStarts.count])
    }

    /// The windows `rank` of `ranks` classifies: a contiguous run, so that each rank
    /// reads only its own part of the band.
    public func share(rank: Int, of ranks: Int) -> Range<Int> {
        (count * rank / ranks)..<(count * (rank + 1) / ranks)
    }

    /// The ascending channels windows `range` need.
    public func channels(of range: Range<Int>) -> Range<Int> {
        guard !range.isEmpty else { return 0..<0 }
        return window(range.lowerBound).channel..<(window(range.upperBound - 1).channel + Self.width)
    }

    /// The encoded images of windows `range`, from an observation holding their channels.
    public func images(_ range: Range<Int>, from observation: Observation, classNames: [String]) -> SpectrogramSet {
        let pixels = Self.height * Self.width
        var values = [Float](repeating: 0, count: range.count * pixels)
        values.withUnsafeMutableBufferPointer { buffer in
            for (j, i) in range.enumerated() { image(window(i), from: observation, into: buffer.baseAddress! + j * pixels) }
        }
        return SpectrogramSet(images: values, labels: [Int32](repeating: 0, count: range.count), classNames: classNames)
    }

    /// The encoded 64 x 128 image of `window`, from an observation holding its channels.
    /// A short observation whose steps divide 64 is encoded from its distinct rows (each
    /// repeated 64 / steps times): the same pixels, a fraction of the work.
    public func image(_ window: Window, from observation: Observation, into out: UnsafeMutablePointer<Float>) {
        if timeSteps < Self.height && Self.height % timeSteps == 0 {
            let have = observation.channelRange
            precondition(have.lowerBound <= window.channel && window.channel + Self.width <= have.upperBound)
            var power = [Double](repeating: 0, count: timeSteps * Self.width)
            for t in 0..<timeSteps {
                let base = (window.timeStep + t) * have.count + window.channel - have.lowerBound
                for c in 0..<Self.width { power[t * Self.width + c] = Double(observation.power[base + c]) }
            }
            SpectrogramEncoding.encode(power, rowRepeats: Self.height / timeSteps, width: Self.width, into: out)
            return
        }
        var power = [Double](repeating: 0, count: Self.height * Self.width)
        self.power(window, from: observation, into: &power)
        SpectrogramEncoding.encode(power, into: out)
    }

    /// The brightest track in `window`, measured on the time steps as recorded (a short
    /// observation's steps are not stretched here).
    public func track(_ window: Window, from observation: Observation) -> Track {
        let have = observation.channelRange
        precondition(have.lowerBound <= window.channel && window.channel + Self.width <= have.upperBound)
        let steps = min(Self.height, timeSteps)
        var power = [Float](repeating: 0, count: steps * Self.width)
        for t in 0..<steps {
            let base = (window.timeStep + t) * have.count + window.channel - have.lowerBound
            for c in 0..<Self.width { power[t * Self.width + c] = observation.power[base + c] }
        }
        return Track.find(in: power, steps: steps, width: Self.width)
    }

    /// The 64 x 128 power of `window` (time cut or stretched as the type's notes say).
    public func power(_ window: Window, from observation: Observation, into power: inout [Double]) {
        let have = observation.channelRange
        precondition(have.lowerBound <= window.channel && window.channel + Self.width <= have.upperBound)
        let steps = min(Self.height, timeSteps)
        for row in 0..<Self.height {
            let t = window.timeStep + row * steps / Self.height
            let base = t * have.count + window.channel - have.lowerBound
            for c in 0..<Self.width { power[row * Self.width + c] = Double(observation.power[base + c]) }
        }
    }
}
