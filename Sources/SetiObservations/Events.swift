import Foundation

/// A straight drifting path through a cadence's time: where a signal is at one time and
/// how fast its frequency changes.
public struct DriftPath: Sendable, Equatable {
    /// MHz at `time`.
    public var frequency: Double
    /// Seconds from the cadence's start.
    public var time: Double
    /// Hz/s.
    public var driftRate: Double

    public init(frequency: Double, time: Double, driftRate: Double) {
        (self.frequency, self.time, self.driftRate) = (frequency, time, driftRate)
    }

    /// The path's frequency (MHz) at `t` seconds from the cadence's start.
    public func frequency(at t: Double) -> Double { frequency + driftRate * (t - time) * 1e-6 }
}

/// An ON hit followed through a cadence: the SNR along its drifted path in every
/// observation, and where that counts as found.
public struct Event: Sendable {
    /// The ON observation whose hit the path comes from, and that hit.
    public var member: Int
    public var hit: Hits.Hit
    public var path: DriftPath
    /// SNR integrated along the path in each observation of the cadence.
    public var snr: [Double]
    /// Found in each observation: the hit's own, and where the SNR reaches the threshold
    /// for its role (ON: the hit threshold; OFF: the lower OFF threshold).
    public var found: [Bool]
}

/// The cadence test, as turboSETI's `find_event` applies it, but measured on the data:
/// each ON hit's drift is carried through the cadence's times, and in every observation
/// the power along that path is integrated. A signal from the target is found along its
/// path in every ON observation and in no OFF one; interference is found in OFF ones too.
public enum Events {
    /// The tolerance, in channels, around a path carried `elapsed` seconds from its hit:
    /// 2 for the hit's own start, and one more for each length of the hit's observation
    /// the path is carried (a hit's drift rate is good to about a channel over its
    /// observation), at most 32.
    public static func margin(elapsed: Double, duration: Double) -> Int {
        2 + min(30, Int((abs(elapsed) / max(duration, 1e-9)).rounded(.up)))
    }

    /// The path of `hit` of `report`, an observation starting `start` s into the cadence.
    public static func path(of hit: Hits.Hit, in report: ScanReport, start: Double) -> DriftPath {
        DriftPath(frequency: report.frequency(of: hit), time: start + report.startTime(of: hit), driftRate: report.driftRate(of: hit))
    }

    /// The paths to follow: every ON observation's hits in turn, strongest first, a hit
    /// left out when a path already taken passes through it (within its margin, with a
    /// drift rate within two channels over the hit's observation), so that one signal seen
    /// in several ON observations is one event.
    public static func paths(cadence: Cadence, reports: [ScanReport]) -> [(member: Int, hit: Hits.Hit, path: DriftPath)] {
        precondition(reports.count == cadence.members.count)
        var taken: [(member: Int, hit: Hits.Hit, path: DriftPath)] = []
        for (m, member) in cadence.members.enumerated() where member.role == .on {
            for hit in reports[m].hits {
                let path = path(of: hit, in: reports[m], start: member.start)
                let rateTolerance = 2 * cadence.channelWidth * 1e6 / max(member.duration, 1e-9)
                let covered = taken.contains { other in
                    let carried = path.time - other.path.time
                    let tolerance = Double(margin(elapsed: carried, duration: cadence.members[other.member].duration)) * cadence.channelWidth
                    return abs(other.path.frequency(at: path.time) - path.frequency) <= tolerance
                        && abs(other.path.driftRate - path.driftRate) <= rateTolerance
                }
                if !covered { taken.append((m, hit, path)) }
            }
        }
        return taken
    }

    /// Where `path` runs through `member`: its fractional channel at each time step.
    static func channels(of path: DriftPath, in member: Cadence.Member, cadence: Cadence) -> [Double] {
        (0..<member.header.timeSteps).map { t in
            cadence.channel(of: path.frequency(at: member.start + Double(t) * member.header.timeStep))
        }
    }

    /// The channels of `member` to read for measuring `path` carried from observation
    /// `from`: the path's channels with its margin and 64 channels each side for the noise
    /// estimate, clipped to the band; nil when the path runs outside the band throughout.
    public static func channelsToRead(for path: DriftPath, from: Int, in member: Int, cadence: Cadence) -> Range<Int>? {
        let m = cadence.members[member]
        let centres = channels(of: path, in: m, cadence: cadence)
        let margin = Double(margin(elapsed: m.start - path.time, duration: cadence.members[from].duration))
        guard let low = centres.min(), let high = centres.max(), high + margin >= 0, low - margin <= Double(cadence.channels - 1) else { return nil }
        let first = max(0, Int((low - margin).rounded(.down)) - 1 - 64)
        let last = min(cadence.channels, Int((high + margin).rounded(.up)) + 2 + 64)
        return first < last ? first..<last : nil
    }

    /// The SNR integrated along `path` (carried from observation `from`) in observation
    /// `member`, read as `observation` (at least ``channelsToRead(for:from:in:cadence:)``):
    /// each time step's median over the channels read is subtracted and the excess summed
    /// along the path, shifted by up to its margin and tilted by up to a channel over the
    /// observation; the best sum over the noise of a sum (each step's robust deviation, in
    /// quadrature). As ``Track/find(in:steps:width:)`` measures a hit, so the two compare.
    public static func snr(along path: DriftPath, from: Int, in member: Int, cadence: Cadence, observation: Observation) -> Double {
        let m = cadence.members[member]
        let steps = m.header.timeSteps, have = observation.channelRange
        let centres = channels(of: path, in: m, cadence: cadence)
        let margin = margin(elapsed: m.start - path.time, duration: cadence.members[from].duration)
        var excess = [Double](repeating: 0, count: steps * have.count)
        var variance = 0.0
        for t in 0..<steps {
            let row = observation.power[(t * have.count)..<((t + 1) * have.count)].map(Double.init)
            let median = Track.median(row)
            let deviation = 1.4826 * Track.median(row.map { abs($0 - median) })
            variance += deviation * deviation
            for c in 0..<have.count { excess[t * have.count + c] = row[c] - median }
        }
        guard variance > 0 else { return 0 }
        var best = 0.0
        for tilt in -1...1 {
            for shift in -margin...margin {
                var sum = 0.0
                for t in 0..<steps {
                    let c = Int((centres[t] + Double(shift) + Double(tilt) * Double(t) / Double(max(1, steps - 1))).rounded()) - have.lowerBound
                    if c >= 0 && c < have.count { sum += excess[t * have.count + c] }
                }
                best = max(best, sum)
            }
        }
        return best / variance.squareRoot()
    }

    /// The events among `paths` (with `snr`, paths x observations, measured along each)
    /// that pass `filter`: an observation counts as found where the SNR reaches `onSNR`
    /// (ON) or `offSNR` (OFF), and always for the hit's own observation.
    public static func select(_ paths: [(member: Int, hit: Hits.Hit, path: DriftPath)], snr: [Double], cadence: Cadence,
                              filter: CadenceFilter, onSNR: Double, offSNR: Double) -> [Event] {
        let n = cadence.members.count
        precondition(snr.count == paths.count * n)
        var events: [Event] = []
        for (i, p) in paths.enumerated() {
            let row = Array(snr[(i * n)..<((i + 1) * n)])
            let found = cadence.members.indices.map { k in
                k == p.member || row[k] >= (cadence.members[k].role == .on ? onSNR : offSNR)
            }
            let inOff = cadence.members.indices.contains { cadence.members[$0].role == .off && found[$0] }
            let inEveryOn = cadence.members.indices.allSatisfy { cadence.members[$0].role == .off || found[$0] }
            let keep: Bool
            switch filter {
            case .allHits: keep = true
            case .notInOff: keep = !inOff
            case .everyOnNoOff: keep = inEveryOn && !inOff
            }
            if keep { events.append(Event(member: p.member, hit: p.hit, path: p.path, snr: row, found: found)) }
        }
        return events
    }

    /// The channels an event's picture shows: the path from the cadence's start to its
    /// end with 32 channels each side, at least 128 and at most 1,024 (centred on the
    /// path's middle), within the band.
    public static func channelsToDraw(_ path: DriftPath, cadence: Cadence) -> Range<Int> {
        let a = cadence.channel(of: path.frequency(at: 0)), b = cadence.channel(of: path.frequency(at: cadence.end))
        let middle = (a + b) / 2
        let half = min(512, max(64, abs(b - a) / 2 + 32))
        var first = Int((middle - half).rounded(.down)), last = Int((middle + half).rounded(.up))
        let width = min(cadence.channels, last - first)
        first = max(0, min(first, cadence.channels - width))
        last = first + width
        return first..<last
    }
}

extension Events {
    /// events.csv: one row per event (where and when its hit was, its drift, class and SNR,
    /// in how many ON and OFF observations it was found, and the SNR along its path in each).
    public static func csv(_ events: [Event], cadence: Cadence, reports: [ScanReport]) -> String {
        let roles = cadence.members.enumerated().map { "snr_\($0.offset + 1)_\($0.element.role.rawValue.lowercased())" }
        var lines = ["event,observation,file,frequency_mhz,drift_rate_hz_s,time_s,mjd,snr,class,p_signal,on_found,off_found," + roles.joined(separator: ",")]
        let ons = cadence.members.indices.filter { cadence.members[$0].role == .on }, offs = cadence.members.indices.filter { cadence.members[$0].role == .off }
        for (n, event) in events.enumerated() {
            let member = cadence.members[event.member], report = reports[event.member]
            var fields = ["\(n + 1)", "\(event.member + 1)", csvField(member.file), String(format: "%.6f", event.path.frequency),
                          String(format: "%.6f", event.path.driftRate), String(format: "%.3f", event.path.time),
                          String(format: "%.8f", member.header.startMJD + report.startTime(of: event.hit) / 86_400),
                          String(format: "%.2f", event.hit.best.track.snr), report.classNames[event.hit.best.classIndex],
                          String(format: "%.4f", event.hit.best.probability)]
            fields += ["\(ons.filter { event.found[$0] }.count)/\(ons.count)", "\(offs.filter { event.found[$0] }.count)/\(offs.count)"]
            fields += event.snr.map { String(format: "%.2f", $0) }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field: quoted when it holds a comma, a quote or a line break.
    static func csvField(_ text: String) -> String {
        text.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
