import Foundation
import SetiRandom
@testable import SetiObservations
import XCTest
import SetiTestSupport

/// Issue 30.3: ON/OFF cadences: the checks on the files, and the cadence test on
/// synthetic cadences whose signals are known (a drifting signal in the ON observations
/// only, interference in all, a signal in one ON only, a zero-drift line everywhere),
/// at each filter level.
final class CadenceTests: ScratchFolderTestCase {
    override var scratchName: String { "cadence" }

    static let steps = 16, channels = 1_024, timeStep = 18.25, channelWidth = 2.79e-6, firstMJD = 57_650.5
    /// Seconds between observations' starts: 16 steps and 10 s to slew.
    static let spacing = Double(steps) * timeStep + 10

    /// A signal: ascending channel at the cadence's start, channels per time step, in
    /// which observations, and its power a step.
    struct Injected {
        var channel: Double
        var slope: Double
        var members: Set<Int>
        var amplitude: Float = 100
    }

    /// Six observations (ON, OFF, ...) of chi-squared noise of mean 10 with `signals`,
    /// written as .fil (descending channels, as Green Bank writes them); the paths.
    private func cadence(_ signals: [Injected], steps: [Int] = Array(repeating: steps, count: 6), seed: UInt64 = 1) throws -> [String] {
        var paths: [String] = []
        for m in 0..<steps.count {
            var rng = SplitMix64(seed: seed * 100 + UInt64(m))
            var power = (0..<(steps[m] * Self.channels)).map { _ in Float(5 * -log(max(1e-12, rng.uniform01())) + 5 * -log(max(1e-12, rng.uniform01()))) }
            let startStep = Double(m) * Self.spacing / Self.timeStep
            for signal in signals where signal.members.contains(m) {
                for t in 0..<steps[m] {
                    let c = Int((signal.channel + signal.slope * (startStep + Double(t))).rounded())
                    // Ascending channel c is file channel channels - 1 - c (foff < 0).
                    if (0..<Self.channels).contains(c) { power[t * Self.channels + Self.channels - 1 - c] += signal.amplitude }
                }
            }
            var header = ObservationHeader()
            (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.timeSteps, header.channels) =
                (8421 + Double(Self.channels - 1) * Self.channelWidth, -Self.channelWidth, Self.timeStep, steps[m], Self.channels)
            header.startMJD = Self.firstMJD + Double(m) * Self.spacing / 86_400
            let url = dir.appendingPathComponent("\(m % 2 == 0 ? "on" : "off")\(m / 2 + 1)-\(seed).fil")
            try Filterbank.write(power, header: header, to: url)
            paths.append(url.path)
        }
        return paths
    }

    /// A scan without a model: every window a candidate, tracks measured as scan does.
    private func report(_ file: String) throws -> ScanReport {
        let url = URL(fileURLWithPath: file)
        let header = try ObservationFile.header(url)
        let windows = try ScanWindows(channels: header.channels, timeSteps: header.timeSteps, overlap: 64, file: file)
        let observation = try ObservationFile.read(url, channels: 0..<header.channels)
        var tracks: [Double] = []
        for i in 0..<windows.count {
            let track = windows.track(windows.window(i), from: observation)
            tracks += [track.startChannel, track.channelsPerStep, track.snr]
        }
        let probabilities = (0..<windows.count).flatMap { _ -> [Float] in [0.3, 0.7, 0, 0] }
        return ScanReport(windows: windows, header: header, classNames: ["squiggle", "narrowband", "noise", "narrowbanddrd"],
                          probabilities: probabilities, tracks: tracks, threshold: 0.5, minSNR: 10)
    }

    /// The events of `files` at `filter`, each with its channel at the cadence's start.
    private func events(_ files: [String], filter: CadenceFilter) throws -> [(channel: Double, slope: Double, event: Event)] {
        let headers = try files.map { try ObservationFile.header(URL(fileURLWithPath: $0)) }
        let cadence = try Cadence(files: files, headers: headers)
        let reports = try files.map(report)
        let paths = Events.paths(cadence: cadence, reports: reports)
        var snr: [Double] = []
        for p in paths {
            for k in cadence.members.indices {
                guard let range = Events.channelsToRead(for: p.path, from: p.member, in: k, cadence: cadence) else { snr.append(0); continue }
                let observation = try ObservationFile.read(URL(fileURLWithPath: files[k]), channels: range)
                snr.append(Events.snr(along: p.path, from: p.member, in: k, cadence: cadence, observation: observation))
            }
        }
        return Events.select(paths, snr: snr, cadence: cadence, filter: filter, onSNR: 10, offSNR: 5).map { event in
            (cadence.channel(of: event.path.frequency(at: 0)), event.path.driftRate / (Self.channelWidth * 1e6 / Self.timeStep), event)
        }
    }

    func testEachFilterLevelKeepsWhatTurboSETIsWould() throws {
        let target = Injected(channel: 200, slope: 0.5, members: [0, 2, 4])
        let rfi = Injected(channel: 700, slope: -0.3, members: Set(0..<6))
        let once = Injected(channel: 850, slope: 0.2, members: [2])
        let still = Injected(channel: 500, slope: 0, members: Set(0..<6))
        let files = try cadence([target, rfi, once, still])

        let level3 = try events(files, filter: .everyOnNoOff)
        XCTAssertEqual(level3.count, 1, "only the target: \(level3.map { ($0.channel, $0.slope) })")
        if let event = level3.first {
            XCTAssertEqual(event.channel, 200, accuracy: 2)
            XCTAssertEqual(event.slope, 0.5, accuracy: 1.0 / 16)
            XCTAssertEqual(event.event.found, [true, false, true, false, true, false])
            XCTAssertTrue(event.event.snr.enumerated().allSatisfy { $0.offset % 2 == 0 ? $0.element > 20 : $0.element < 5 }, "\(event.event.snr)")
        }
        let level2 = try events(files, filter: .notInOff).map(\.channel).sorted()
        XCTAssertEqual(level2.count, 2, "the target and the one-ON signal: \(level2)")
        if level2.count == 2 {
            XCTAssertEqual(level2[0], 200, accuracy: 2)
            XCTAssertEqual(level2[1], 850, accuracy: 2)
        }
        let level1 = try events(files, filter: .allHits).map(\.channel).sorted()
        XCTAssertEqual(level1.count, 4, "every signal once, however many ON observations saw it: \(level1)")
        for (found, injected) in zip(level1, [200.0, 500, 700, 850]) { XCTAssertEqual(found, injected, accuracy: 2) }
    }

    /// Interference of every brightness down to the hit threshold is rejected, since
    /// an OFF counts at half the ON threshold; and a cadence of pure noise has no events.
    func testFaintInterferenceAndPureNoiseGiveNoEvents() throws {
        var passed = 0
        for seed in 1...6 {
            let amplitude = Float(20 + 10 * seed)
            let files = try cadence([Injected(channel: 300 + 40 * Double(seed), slope: -0.25, members: Set(0..<6), amplitude: amplitude)], seed: UInt64(seed))
            passed += try events(files, filter: .everyOnNoOff).count
        }
        XCTAssertEqual(passed, 0)
        XCTAssertEqual(try events(try cadence([], seed: 99), filter: .allHits).count, 0)
    }

    /// Observations of different lengths (an OFF longer than the ON) are followed through
    /// by their own times.
    func testObservationsOfDifferentLengths() throws {
        let files = try cadence([Injected(channel: 300, slope: 0.25, members: [0, 2, 4])], steps: [16, 32, 16, 8, 16, 16])
        let found = try events(files, filter: .everyOnNoOff)
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.channel ?? 0, 300, accuracy: 2)
    }

    func testBadCadencesAreOneLine() throws {
        let files = try cadence([])
        let headers = try files.map { try ObservationFile.header(URL(fileURLWithPath: $0)) }
        func refused(_ f: [String], _ h: [ObservationHeader], _ words: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Cadence(files: f, headers: h), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
                XCTAssertFalse("\(error)".contains("\n"), file: file, line: line)
            }
        }
        refused([files[0]], [headers[0]], "needs at least one ON and one OFF")
        refused([], [], "needs at least one ON and one OFF")
        refused(Array(files.prefix(3)), Array(headers.prefix(3)), "has no OFF")
        refused([files[0], files[0]], [headers[0], headers[0]], "listed twice")
        var shifted = headers
        shifted[3].firstFrequency += 1
        refused(files, shifted, "\(files[3]): its frequency axis")
        shifted = headers
        shifted[1].channels = 512
        refused(files, shifted, "differs from \(files[0])'s")
        shifted = headers
        shifted[2].fileChannelWidth *= 2
        refused(files, shifted, "must cover the same channels")
        shifted = headers
        shifted[3].startMJD = headers[1].startMJD
        refused(files, shifted, "in the order they were made")
        shifted = headers
        shifted[4].startMJD = 0
        refused(files, shifted, "has no start time")
        // Without any start time the observations follow each other.
        let untimed = headers.map { var h = $0; h.startMJD = 0; return h }
        let plan = try Cadence(files: files, headers: untimed)
        XCTAssertEqual(plan.members.map(\.start), (0..<6).map { Double($0) * 16 * Self.timeStep })
        XCTAssertEqual(plan.members.map(\.role), [.on, .off, .on, .off, .on, .off])
    }

    func testAListFileNamesTheObservations() throws {
        let files = try cadence([])
        let list = dir.appendingPathComponent("cadence.txt")
        let names = files.map { URL(fileURLWithPath: $0).lastPathComponent }
        try Data(("# ABACAD\n\n" + names.joined(separator: "\n") + "\n").utf8).write(to: list)
        XCTAssertEqual(try Cadence.files([list.path]), files)
        XCTAssertEqual(try Cadence.files(files), files, "observations given directly")
        try Data("on1.fil\nnotes.txt\n".utf8).write(to: list)
        XCTAssertThrowsError(try Cadence.files([list.path])) { error in
            XCTAssertTrue("\(error)".contains("cadence.txt line 2: 'notes.txt' is not an observation file"), "\(error)")
        }
        XCTAssertThrowsError(try Cadence.files([dir.appendingPathComponent("missing.txt").path])) { error in
            XCTAssertTrue("\(error)".contains("missing.txt"), "\(error)")
        }
    }
}
