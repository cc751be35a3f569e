import Foundation
import SetiData
import SetiNet
import SetiObservations

/// `scan`'s classification of an observation's windows, one rank's share: reading,
/// stretching and encoding run on a second thread a part ahead of the forward pass, so they
/// overlap it. `bench scan` times the same function.
public enum WindowClassifier {
    /// Where one rank's scan time went. Reading and encoding run on a second thread,
    /// a part ahead of the forward pass, so they overlap it: `waiting` is the time the
    /// forward pass waited for them, `total` the wall time.
    public struct Timing: Sendable {
        public var read = 0.0, encode = 0.0, waiting = 0.0, forward = 0.0, tracks = 0.0, total = 0.0

        public init(total: Double = 0) { self.total = total }
    }

    /// Windows a part: small enough that preparing the first part, the only one not
    /// overlapped, is short.
    public static let partWindows = 128

    /// Windows a read: 512, or for a chunked file enough to span a whole chunk (each read
    /// decodes every chunk it touches), within 256 MB of power.
    public static func blockWindows(_ windows: ScanWindows, header: ObservationHeader) -> Int {
        let stride = ScanWindows.width - windows.overlap
        let chunk = header.chunkChannels.map { ($0 + stride - 1) / stride } ?? 0
        let budget = (256 << 20) / (4 * max(1, header.timeSteps) * stride)
        return max(partWindows, min(max(512, chunk), budget) / partWindows * partWindows)
    }

    /// Classifies windows `share` of `url` (all windows' slots, zero outside the share): the
    /// probabilities (windows x classes, calibrated) and, where p_signal reaches `threshold`,
    /// the track (start channel, channels a step, SNR), with the time each part took.
    /// Part n + 1 is read and encoded while part n is classified.
    public static func classify(_ url: URL, header: ObservationHeader, windows: ScanWindows, share: Range<Int>, network: Network, classNames: [String],
                         calibration: Calibration?, threshold: Double) throws -> (probabilities: [Float], tracks: [Double], timing: Timing) {
        let blockWindows = blockWindows(windows, header: header)
        let k = classNames.count
        let noise = classNames.firstIndex(of: SignalClass.noise.rawValue)
        var probabilities = [Float](repeating: 0, count: windows.count * k)
        var tracks = [Double](repeating: 0, count: windows.count * 3)
        var timing = Timing()
        let began = Date()
        let parts = stride(from: share.lowerBound, to: share.upperBound, by: partWindows).map { $0..<min($0 + partWindows, share.upperBound) }
        // A part starting a block reads the block; the others reuse the block read before.
        func prepare(_ part: Range<Int>, block: Observation?) -> Prepared {
            Prepared {
                let start = Date()
                let blockStart = share.lowerBound + (part.lowerBound - share.lowerBound) / blockWindows * blockWindows
                let observation = try block ?? ObservationFile.read(url, channels: windows.channels(of: blockStart..<min(blockStart + blockWindows, share.upperBound)))
                let read = Date().timeIntervalSince(start)
                let set = windows.images(part, from: observation, classNames: classNames)
                return (observation, set, read, Date().timeIntervalSince(start) - read)
            }
        }
        var next = parts.first.map { prepare($0, block: nil) }
        for (n, part) in parts.enumerated() {
            var clock = Date()
            func lap() -> Double { defer { clock = Date() }; return Date().timeIntervalSince(clock) }
            let (observation, set, read, encode) = try next!.value()
            if n + 1 < parts.count {
                let sameBlock = (parts[n + 1].lowerBound - share.lowerBound) % blockWindows != 0
                next = prepare(parts[n + 1], block: sameBlock ? observation : nil)
            }
            (timing.read, timing.encode, timing.waiting) = (timing.read + read, timing.encode + encode, timing.waiting + lap())
            if n == 0 { try Evaluator.checkCompatible(network, with: set, labelled: false, source: url.path) }
            for (i, p) in Evaluator.probabilities([network], on: set, calibrations: [calibration]).enumerated() { probabilities[part.lowerBound * k + i] = p }
            timing.forward += lap()
            for i in part where 1 - Double(noise.map { probabilities[i * k + $0] } ?? 0) >= threshold {
                let track = windows.track(windows.window(i), from: observation)
                tracks.replaceSubrange((3 * i)..<(3 * i + 3), with: [track.startChannel, track.channelsPerStep, track.snr])
            }
            timing.tracks += lap()
        }
        timing.total = Date().timeIntervalSince(began)
        return (probabilities, tracks, timing)
    }

    /// One part's observation and encoded windows, made on a thread of its own; `value()`
    /// waits for them (and rethrows the reader's error).
    final class Prepared: @unchecked Sendable {
        typealias Part = (observation: Observation, set: SpectrogramSet, read: Double, encode: Double)
        private var result: Result<Part, Error>?
        private let done = DispatchSemaphore(value: 0)

        init(_ work: @escaping @Sendable () throws -> Part) {
            DispatchQueue.global().async { [self] in
                result = Result { try work() }
                done.signal()
            }
        }

        func value() throws -> Part {
            done.wait()
            done.signal()  // a second call returns at once
            return try result!.get()
        }
    }
}
