import Foundation
import SetiFiles
import SetiData

/// A radio observation's spectrogram as the telescope files hold it: power per time step
/// and frequency channel, with the axes' physical values. Frequencies ascend here
/// whatever the file's order (files with a negative channel width are flipped on reading).
public struct Observation: Sendable {
    /// Where it came from (for messages and the candidates file).
    public var file: String
    public var sourceName: String
    /// Centre frequency of channel 0 and the channel width, in MHz (width > 0).
    public var firstFrequency: Double
    public var channelWidth: Double
    /// Start time (MJD) and the time per step (s).
    public var startMJD: Double
    public var timeStep: Double
    public var timeSteps: Int
    /// Channels of the whole file; ``power`` holds `channelRange` of them.
    public var channels: Int
    public var channelRange: Range<Int>
    /// timeSteps x channelRange.count values, time-major, frequency ascending.
    public var power: [Float]

    /// The centre frequency of channel `c` (of the whole file), in MHz.
    public func frequency(ofChannel c: Int) -> Double { firstFrequency + Double(c) * channelWidth }
}

/// A problem with an observation file, naming it: `obs.fil: nbits = 3: allowed 8, 16 or 32`.
public struct ObservationError: OneLineError {
    public let description: String
    public init(file: String, _ message: String) { description = "\(file): \(message)" }
}

/// The header facts every reader supplies, before any data is read.
public struct ObservationHeader: Sendable {
    public var sourceName = ""
    public var firstFrequency = 0.0
    /// As in the file: negative when channels descend.
    public var fileChannelWidth = 0.0
    public var startMJD = 0.0
    public var timeStep = 0.0
    public var timeSteps = 0
    public var channels = 0
    /// Channels of one stored chunk of a chunked (compressed) file, or nil: a read decodes
    /// whole chunks, so reading in parts narrower than a chunk decodes it again and again.
    public var chunkChannels: Int?

    public init() {}

    /// The physical ranges a header's values must lie in, the same for every format
    /// (filterbank keywords, HDF5 attributes): within them every derived figure (the band's
    /// edges, the last time step's time and MJD, a drift in Hz/s) is finite and meaningful.
    public enum Ranges {
        /// Channel frequencies (fch1 and the band's other edge), MHz: radio, up to 1 THz.
        public static let frequencyMHz = 1e-6...1e6
        /// |foff|, MHz: from 1 µHz channels to 10 GHz ones.
        public static let channelWidthMHz = 1e-12...1e4
        /// tsamp, s: from a nanosecond to about 11 days.
        public static let timeStepSeconds = 1e-9...1e6
        /// tstart, MJD: from 1858 to the year 4596 (0 is accepted: files that leave it out).
        public static let startMJD = 0.0...1e6
    }

    /// Checks what a window scan needs: positive sizes, and every value within ``Ranges``,
    /// named by the file's own keyword.
    func validated(file: String) throws -> ObservationHeader {
        func range(_ r: ClosedRange<Double>) -> String { String(format: "%g...%g", r.lowerBound, r.upperBound) }
        guard timeSteps > 0 else { throw ObservationError(file: file, "holds no time steps") }
        guard channels > 0 else { throw ObservationError(file: file, "nchans = \(channels): allowed >= 1") }
        guard Ranges.frequencyMHz.contains(firstFrequency) else {
            throw ObservationError(file: file, "fch1 = \(firstFrequency) MHz: allowed \(range(Ranges.frequencyMHz)) MHz")
        }
        guard Ranges.channelWidthMHz.contains(abs(fileChannelWidth)) else {
            throw ObservationError(file: file, "foff = \(fileChannelWidth) MHz: allowed a channel width of \(range(Ranges.channelWidthMHz)) MHz, either sign")
        }
        let otherEdge = firstFrequency + Double(channels - 1) * fileChannelWidth
        guard Ranges.frequencyMHz.contains(otherEdge) else {
            throw ObservationError(file: file, "fch1 = \(firstFrequency), foff = \(fileChannelWidth) and nchans = \(channels) put the last channel at \(otherEdge) MHz: allowed \(range(Ranges.frequencyMHz)) MHz")
        }
        guard Ranges.timeStepSeconds.contains(timeStep) else {
            throw ObservationError(file: file, "tsamp = \(timeStep) s: allowed \(range(Ranges.timeStepSeconds)) s")
        }
        guard Ranges.startMJD.contains(startMJD) else {
            throw ObservationError(file: file, "tstart = \(startMJD): allowed an MJD of \(range(Ranges.startMJD))")
        }
        return self
    }

    /// `channels` (all when nil), checked against the file's channels and the size one
    /// read may have.
    func readableRange(_ channels: Range<Int>?, file: String) throws -> Range<Int> {
        let range = channels ?? 0..<self.channels
        guard range.lowerBound >= 0, range.upperBound <= self.channels, !range.isEmpty else {
            throw ObservationError(file: file, "channels \(range) outside 0..<\(self.channels)")
        }
        guard timeSteps <= (1 << 31) / range.count else {
            throw ObservationError(file: file, "\(timeSteps) x \(range.count) values are too many to read at once")
        }
        return range
    }

    /// The lowest channel's frequency (channel 0 in ascending order), in MHz.
    public var ascendingFirstFrequency: Double {
        fileChannelWidth > 0 ? firstFrequency : firstFrequency + Double(channels - 1) * fileChannelWidth
    }
}

extension Observation {
    /// An observation from a header and file-ordered rows of `fileChannels` (a range in
    /// the file's channel order), flipping to ascending frequency.
    init(file: String, header: ObservationHeader, ascendingRange: Range<Int>, fileOrderedPower: [Float]) {
        var power = fileOrderedPower
        let width = ascendingRange.count
        if header.fileChannelWidth < 0 {
            for t in 0..<header.timeSteps { power[(t * width)..<((t + 1) * width)].reverse() }
        }
        self.init(
            file: file, sourceName: header.sourceName, firstFrequency: header.ascendingFirstFrequency,
            channelWidth: abs(header.fileChannelWidth), startMJD: header.startMJD, timeStep: header.timeStep,
            timeSteps: header.timeSteps, channels: header.channels, channelRange: ascendingRange, power: power)
    }

    /// Refuses a NaN or infinity in `power` (time steps of `fileRange.count` file-ordered
    /// channels), naming where it is.
    static func checkFinite(_ power: [Float], fileRange: Range<Int>, file: String) throws {
        guard let bad = power.firstIndex(where: { !$0.isFinite }) else { return }
        let value = power[bad].isNaN ? "NaN" : "\(power[bad])"
        throw ObservationError(file: file, "holds \(value) at time step \(bad / fileRange.count), file channel \(fileRange.lowerBound + bad % fileRange.count)")
    }

    /// The file's channel range that holds ascending channels `range`.
    static func fileRange(of range: Range<Int>, header: ObservationHeader) -> Range<Int> {
        header.fileChannelWidth > 0 ? range : (header.channels - range.upperBound)..<(header.channels - range.lowerBound)
    }
}
