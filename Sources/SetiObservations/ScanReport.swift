import Foundation
import SetiData

/// What a scan of one observation found, from the windows' calibrated probabilities and
/// the tracks measured in the candidate windows: the candidates, the hits, and their CSV
/// tables. Every rank holds the same probabilities after the scan's reduction, so every
/// rank computes the same report.
public struct ScanReport: Sendable {
    /// A window the model called a signal: p_signal = 1 - p(noise) of at least the threshold.
    public struct Candidate: Sendable, Equatable {
        public let window: Int
        /// The most probable signal class.
        public let classIndex: Int
        /// 1 - p(noise).
        public let probability: Double
    }

    public let windows: ScanWindows
    public let header: ObservationHeader
    public let classNames: [String]
    /// windows x classes.
    public let probabilities: [Float]
    /// Candidates in window order.
    public let candidates: [Candidate]
    /// One hit per track of at least the minimum SNR, strongest first (``Hits``).
    public let hits: [Hits.Hit]

    /// The report of windows `probabilities` (windows x classes) and `tracks` (windows x
    /// (start channel, channels a step, SNR), measured where p_signal reached `threshold`).
    public init(windows: ScanWindows, header: ObservationHeader, classNames: [String], probabilities: [Float], tracks: [Double],
                threshold: Double, minSNR: Double) {
        (self.windows, self.header, self.classNames, self.probabilities) = (windows, header, classNames, probabilities)
        let k = classNames.count
        let noise = classNames.firstIndex(of: SignalClass.noise.rawValue)
        var candidates: [Candidate] = []
        for i in 0..<windows.count {
            let p = probabilities[(i * k)..<((i + 1) * k)]
            let signal = 1 - Double(noise.map { p[p.startIndex + $0] } ?? 0)
            guard signal >= threshold,
                  let best = (0..<k).filter({ $0 != noise }).max(by: { p[p.startIndex + $0] < p[p.startIndex + $1] }) else { continue }
            candidates.append(Candidate(window: i, classIndex: best, probability: signal))
        }
        self.candidates = candidates
        let detections = candidates.map { c -> Detection in
            let w = windows.window(c.window)
            let t = Track(startChannel: tracks[3 * c.window], channelsPerStep: tracks[3 * c.window + 1], snr: tracks[3 * c.window + 2])
            return Detection(window: c.window, classIndex: c.classIndex, probability: c.probability, channel: w.channel, timeStep: w.timeStep, track: t)
        }
        hits = Hits.merge(detections.filter { $0.track.snr >= minSNR }, windowWidth: ScanWindows.width)
    }

    /// The candidates, most probable first (ties by window).
    public var strongestCandidates: [Candidate] {
        candidates.sorted { ($0.probability, -$0.window) > ($1.probability, -$1.window) }
    }

    private var lowest: Double { header.ascendingFirstFrequency }
    private var channelWidth: Double { abs(header.fileChannelWidth) }

    /// A hit's drift rate in Hz/s.
    public func driftRate(of hit: Hits.Hit) -> Double { hit.best.track.channelsPerStep * channelWidth * 1e6 / header.timeStep }

    /// The frequency (MHz) where a hit's track starts, at its window's first time step.
    public func frequency(of hit: Hits.Hit) -> Double { lowest + hit.best.absoluteStartChannel * channelWidth }

    /// Seconds from the observation's start to a hit's window.
    public func startTime(of hit: Hits.Hit) -> Double { Double(hit.best.timeStep) * header.timeStep }

    private func probabilityFields(window: Int) -> [String] {
        let k = classNames.count
        return (0..<k).map { String(format: "%.4f", probabilities[window * k + $0]) }
    }

    /// candidates.csv: window, first channel, band in MHz, start time in s and MJD, class,
    /// p_signal, every class's probability; in window order.
    public var candidatesCSV: String {
        var lines = ["window,channel,frequency_start_mhz,frequency_end_mhz,time_start_s,mjd_start,class,p_signal," + classNames.map { "p_\($0)" }.joined(separator: ",")]
        for c in candidates {
            let w = windows.window(c.window)
            let start = Double(w.timeStep) * header.timeStep
            let fields = [
                "\(c.window)", "\(w.channel)",
                String(format: "%.6f", lowest + Double(w.channel) * channelWidth),
                String(format: "%.6f", lowest + Double(w.channel + ScanWindows.width - 1) * channelWidth),
                String(format: "%.3f", start), String(format: "%.8f", header.startMJD + start / 86_400),
                classNames[c.classIndex], String(format: "%.4f", c.probability),
            ]
            lines.append((fields + probabilityFields(window: c.window)).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// hits.csv, strongest first, in turboSETI's terms: top hit number, drift rate in Hz/s,
    /// SNR integrated along the drift, the frequency where the track starts, the band
    /// searched; then our class, p_signal, the windows merged and the probabilities.
    public var hitsCSV: String {
        var lines = ["top_hit,drift_rate_hz_s,snr,frequency_mhz,frequency_start_mhz,frequency_end_mhz,channel,time_start_s,mjd_start,class,p_signal,windows,"
                     + classNames.map { "p_\($0)" }.joined(separator: ",")]
        for (n, hit) in hits.enumerated() {
            let d = hit.best, start = startTime(of: hit)
            var fields = ["\(n + 1)", String(format: "%.6f", driftRate(of: hit)), String(format: "%.2f", d.track.snr)]
            fields += [String(format: "%.6f", frequency(of: hit)), String(format: "%.6f", lowest + Double(d.channel) * channelWidth),
                       String(format: "%.6f", lowest + Double(d.channel + ScanWindows.width - 1) * channelWidth)]
            fields += [String(format: "%.1f", d.absoluteStartChannel), String(format: "%.3f", start), String(format: "%.8f", header.startMJD + start / 86_400)]
            fields += [classNames[d.classIndex], String(format: "%.4f", d.probability), "\(hit.windows)"]
            lines.append((fields + probabilityFields(window: d.window)).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
