import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiObservations
import SetiPlot
import SetiTraining
import SwiftMPI

/// `seti-dist scan`: classify every window of an observation and list the candidates.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Slide the model over an observation (.fil or .h5) and write its candidate signals.",
        discussion: """
            Windows of the model's 64 x 128 input cover the band with --overlap channels \
            shared by neighbours (the last one aligned to the top of the band) and, when the \
            file has more than 64 time steps, consecutive 64-step blocks. A file of fewer \
            than 64 steps (Breakthrough Listen's fine-channel products hold 16) is stretched \
            to 64 rows, each step repeated. Each window is encoded like the training data \
            and classified; a window whose probability of holding a signal (1 - p(noise)) is \
            at least --min-probability is a candidate, of its most probable signal class.

            Under mpirun the windows are split over the ranks in contiguous runs of the \
            band, each rank reading only its channels; the candidates equal one process's.

            In every candidate window a de-Doppler search over the recorded time steps finds \
            the brightest straight track: its drift rate (Hz/s, from the file's channel width \
            and sample time) and its SNR integrated along the drift. A track of at least \
            --min-snr is a hit; windows that see the same track (the same time block, \
            overlapping in frequency, tracks starting within 4 channels) are one hit.

            Output (--out): candidates.csv (window, first channel, frequency range in MHz, \
            start time in s and MJD, signal class, p_signal, every class's probability), \
            hits.csv (one row per hit, strongest first, as turboSETI's hit tables: top hit \
            number, drift rate, SNR, the track's start frequency, the window's band, class, \
            p_signal, windows merged, probabilities) and hits.png (the --hits candidates of \
            highest p_signal; none without candidates).

            Cadences (--cadence ON OFF ON OFF ..., or a file listing them): observations \
            of a target (ON) alternating with other positions on the sky (OFF), of the same \
            band (checked from the headers) and listed in time order. Each is scanned as \
            above into OUT/NN-ON-name/ or OUT/NN-OFF-name/. Every ON hit's drift is then \
            carried through the cadence's times and the power along that path integrated in \
            every observation; it is found in an ON observation at --min-snr, in an OFF one \
            at --off-snr. --filter 1 keeps every ON hit, 2 those found in no OFF, 3 (the \
            default) those found in every ON and no OFF: a signal from the target, not \
            interference. OUT/events.csv lists the events (hit, drift, class, where found, \
            the SNR along the path in each observation); OUT/events/event-NNN.png stacks \
            the observations in time, frequency in MHz, the path dashed, ON/OFF labelled.

            Examples:
              seti-dist scan obs.fil --checkpoint runs/seti/best.safetensors --out scans/obs
              mpirun -np 4 seti-dist scan obs.fil --checkpoint runs/seti/best.safetensors --overlap 96
              mpirun -np 4 seti-dist scan --cadence A1.h5 B.h5 A2.h5 C.h5 A3.h5 D.h5 --checkpoint runs/seti --out scans/target
            """)

    @Argument(help: "Observation file: SIGPROC filterbank (.fil) or Breakthrough Listen HDF5 (.h5); or --cadence.") var file: String?
    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "Output folder for candidates.csv, hits.csv and hits.png (and a cadence's events).") var out: String = "scan"
    @Option(help: "Channels each window shares with the next (0...127).") var overlap: Int = 64
    @Option(help: "Smallest calibrated probability of holding a signal, 1 - p(noise), that makes a candidate (0...1; default: the checkpoint's threshold for a 1% false-alarm rate on its validation noise, or 0.9 for checkpoints without calibration).")
    var minProbability: Double?
    @Option(help: "Candidates drawn in hits.png, strongest first (0...100).") var hits: Int = 16
    @Option(help: "Smallest integrated SNR of a track that makes a hit in hits.csv (0...1000000; turboSETI's -s). Pure noise reaches about 6.")
    var minSnr: Double = 10
    @Option(parsing: .upToNextOption, help: "A cadence instead of one file: ON OFF ON OFF ... observations of the same band in time order (ABACAD: 6), or one text file listing them a line each.")
    var cadence: [String] = []
    @Option(help: "With --cadence, the events kept (turboSETI's filter levels): 1 every ON hit, 2 also in no OFF observation, 3 also in every ON observation. Default 3.")
    var filter: CadenceFilter?
    @Option(help: "With --cadence, the SNR along a path that counts as found in an OFF observation (0...1000000; default: half of --min-snr, so faint interference in an OFF still rejects).")
    var offSnr: Double?
    @Option(help: "With --cadence, events drawn as pictures in OUT/events (0...1000).") var eventPlots: Int = 50

    func validate() throws {
        guard (0...127).contains(overlap) else { throw ValidationError("--overlap \(overlap): allowed 0...127 channels") }
        if let minProbability { guard minProbability.isFinite, (0...1).contains(minProbability) else { throw ValidationError("--min-probability \(minProbability): allowed 0...1") } }
        guard (0...100).contains(hits) else { throw ValidationError("--hits \(hits): allowed 0...100") }
        guard minSnr.isFinite, (0...1_000_000).contains(minSnr) else { throw ValidationError("--min-snr \(minSnr): allowed 0...1000000") }
        if let offSnr { guard offSnr.isFinite, (0...1_000_000).contains(offSnr) else { throw ValidationError("--off-snr \(offSnr): allowed 0...1000000") } }
        guard (0...1_000).contains(eventPlots) else { throw ValidationError("--event-plots \(eventPlots): allowed 0...1000") }
        switch (file, cadence.isEmpty) {
        case (nil, true): throw ValidationError("give an observation file, or --cadence ON OFF ON OFF ...")
        case (let file?, false): throw ValidationError("give one observation file (\(file)) or --cadence, not both")
        case (nil, false): break
        case (_?, true):
            if filter != nil { throw ValidationError("--filter applies to a --cadence") }
            if offSnr != nil { throw ValidationError("--off-snr applies to a --cadence") }
        }
    }

    func run() throws {
        Job.run { job in
            let world = job.world
            let (network, meta) = try world.together { () -> (Network, CheckpointMetadata) in
                let loaded = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 64)
                // A window's probability of holding a signal is 1 - p(noise): a model
                // without a noise class cannot say it, so it is refused before any reading.
                guard loaded.1.classNames.contains(SignalClass.noise.rawValue) else {
                    throw CheckpointError("\(checkpoint): the model's classes (\(loaded.1.classNames.joined(separator: ", "))) have no noise class, so scan cannot tell signal from noise; use a model trained with noise")
                }
                return loaded
            }
            let threshold = minProbability ?? meta.calibration?.noiseThreshold ?? 0.9
            let thresholdNote = "p_signal >= \(String(format: "%.4g", threshold))\(minProbability == nil && meta.calibration?.noiseThreshold != nil ? " (the checkpoint's 1% false-alarm threshold)" : "")"
            let outURL = URL(fileURLWithPath: out)
            let scanner = Scanner(world: world, network: network, meta: meta, threshold: threshold, overlap: overlap, minSNR: minSnr)

            if cadence.isEmpty {
                let url = URL(fileURLWithPath: file!)
                let header = try world.together { try ObservationFile.header(url) }
                try world.onRoot { try createFolder(outURL) }
                let report = try scanner.scan(url, header: header)
                try world.onRoot {
                    let written = try write(report, of: file!, to: outURL)
                    try Output.line("\(report.candidates.count) candidate window(s) with \(thresholdNote), \(report.hits.count) hit(s) -> \(written)")
                    try Output.finish()
                }
                return
            }

            let files = try world.together { try Cadence.files(cadence) }
            let headers = try world.together { try files.map { try ObservationFile.header(URL(fileURLWithPath: $0)) } }
            let plan = try world.together { try Cadence(files: files, headers: headers) }
            try world.onRoot { try createFolder(outURL) }
            var reports: [ScanReport] = []
            for (i, member) in plan.members.enumerated() {
                let report = try scanner.scan(URL(fileURLWithPath: member.file), header: member.header)
                try world.onRoot {
                    let folder = outURL.appendingPathComponent(String(format: "%02d-%@-%@", i + 1, member.role.rawValue,
                                                                      URL(fileURLWithPath: member.file).deletingPathExtension().lastPathComponent))
                    try createFolder(folder)
                    let written = try write(report, of: member.file, to: folder)
                    try Output.line("  \(member.role.rawValue): \(report.candidates.count) candidate window(s), \(report.hits.count) hit(s) -> \(written)")
                }
                reports.append(report)
            }
            let level = filter ?? .everyOnNoOff
            let events = try followThrough(plan, reports: reports, world: world, filter: level)
            try world.onRoot {
                try writeEvents(events, cadence: plan, reports: reports, to: outURL)
                let onHits = plan.members.indices.filter { plan.members[$0].role == .on }.map { reports[$0].hits.count }.reduce(0, +)
                let drawn = min(events.count, eventPlots)
                try Output.line("cadence of \(plan.members.count) observations (\(plan.members.count / 2) ON, \(plan.members.count / 2) OFF): \(onHits) hit(s) in ON observations, \(events.count) event(s) at filter level \(level.rawValue) -> \(out)/events.csv"
                                + (drawn > 0 ? ", \(drawn) picture(s) in \(out)/events" : ""))
                try Output.finish()
            }
        }
    }

    /// One observation's scan, its windows spread over the ranks: every rank returns the
    /// same report.
    struct Scanner {
        let world: Communicator
        let network: Network
        let meta: CheckpointMetadata
        let threshold: Double
        let overlap: Int
        let minSNR: Double

        func scan(_ url: URL, header: ObservationHeader) throws -> ScanReport {
            let windows = try world.together { try ScanWindows(channels: header.channels, timeSteps: header.timeSteps, overlap: overlap, file: url.path) }
            let began = Date()
            var (probabilities, tracks, _) = try world.together {
                try WindowClassifier.classify(url, header: header, windows: windows, share: windows.share(rank: world.rank, of: world.size), network: network,
                                              classNames: meta.classNames, calibration: meta.calibration, threshold: threshold)
            }
            let seconds = Date().timeIntervalSince(began)
            try world.allreduce(&probabilities, op: .sum)
            try world.allreduce(&tracks, op: .sum)
            let slowest = try world.allreduce(seconds, op: .max)
            try world.onRoot {
                let cores = world.size * BLAS.threads
                try Output.line(String(format: "%@: %d windows (%d channels x %d time steps, overlap %d) in %.2f s on %d rank(s) x %d BLAS thread(s): %.0f windows/s, %.1f per core",
                                       url.path, windows.count, header.channels, header.timeSteps, overlap, slowest, world.size, BLAS.threads,
                                       Double(windows.count) / slowest, Double(windows.count) / slowest / Double(cores)))
            }
            return ScanReport(windows: windows, header: header, classNames: meta.classNames, probabilities: probabilities, tracks: tracks,
                              threshold: threshold, minSNR: minSNR)
        }
    }

    /// Writes candidates.csv, hits.csv and hits.png (none without candidates, and none
    /// left from an earlier scan) into `folder`; returns what it wrote, for the summary.
    private func write(_ report: ScanReport, of file: String, to folder: URL) throws -> String {
        try OutputFile.write(Data(report.candidatesCSV.utf8), to: folder.appendingPathComponent("candidates.csv"))
        try OutputFile.write(Data(report.hitsCSV.utf8), to: folder.appendingPathComponent("hits.csv"))
        let hitsURL = folder.appendingPathComponent("hits.png")
        let strongest = report.strongestCandidates.prefix(hits)
        var written = "\(folder.path)/candidates.csv, \(folder.path)/hits.csv"
        if strongest.isEmpty {
            try? FileManager.default.removeItem(at: hitsURL)
        } else {
            try drawHits(strongest, report: report, file: file, to: hitsURL)
            written += ", \(folder.path)/hits.png"
        }
        return written
    }

    /// Every ON hit's path measured in every observation of the cadence (the paths spread
    /// over the ranks), then the filter.
    private func followThrough(_ plan: Cadence, reports: [ScanReport], world: Communicator, filter: CadenceFilter) throws -> [Event] {
        let paths = Events.paths(cadence: plan, reports: reports)
        let n = plan.members.count
        var snr = [Double](repeating: 0, count: paths.count * n)
        try world.together {
            for i in (paths.count * world.rank / world.size)..<(paths.count * (world.rank + 1) / world.size) {
                for k in 0..<n {
                    guard let channels = Events.channelsToRead(for: paths[i].path, from: paths[i].member, in: k, cadence: plan) else { continue }
                    let observation = try ObservationFile.read(URL(fileURLWithPath: plan.members[k].file), channels: channels)
                    snr[i * n + k] = Events.snr(along: paths[i].path, from: paths[i].member, in: k, cadence: plan, observation: observation)
                }
            }
        }
        try world.allreduce(&snr, op: .sum)
        return Events.select(paths, snr: snr, cadence: plan, filter: filter, onSNR: minSnr, offSNR: offSnr ?? minSnr / 2)
    }

    /// events.csv (one row per event: where and when its hit was, its drift, class and
    /// SNR, in how many ON and OFF observations it was found, and the SNR along its path in
    /// each) and the events' pictures in OUT/events, replacing an earlier scan's.
    private func writeEvents(_ events: [Event], cadence: Cadence, reports: [ScanReport], to folder: URL) throws {
        try OutputFile.write(Data(Events.csv(events, cadence: cadence, reports: reports).utf8), to: folder.appendingPathComponent("events.csv"))

        let pictures = folder.appendingPathComponent("events")
        // An earlier scan's pictures: files only (a folder of that name is not ours to empty).
        if let stale = try? FileManager.default.contentsOfDirectory(atPath: pictures.path) {
            for name in stale where name.hasPrefix("event-") && name.hasSuffix(".png") {
                let url = pictures.appendingPathComponent(name)
                let type = (try? FileManager.default.attributesOfItem(atPath: url.path)[.type]) as? FileAttributeType
                if type == .typeRegular || type == .typeSymbolicLink { try? FileManager.default.removeItem(at: url) }
            }
        }
        guard !events.isEmpty, eventPlots > 0 else { return }
        try createFolder(pictures)
        for (n, event) in events.prefix(eventPlots).enumerated() {
            try drawEvent(event, number: n + 1, cadence: cadence, reports: reports, to: pictures.appendingPathComponent(String(format: "event-%03d.png", n + 1)))
        }
    }

    /// One event's picture: every observation's power over the channels around the path.
    private func drawEvent(_ event: Event, number: Int, cadence: Cadence, reports: [ScanReport], to url: URL) throws {
        let channels = Events.channelsToDraw(event.path, cadence: cadence)
        var panels: [CadencePanel] = []
        for (k, member) in cadence.members.enumerated() {
            let observation = try ObservationFile.read(URL(fileURLWithPath: member.file), channels: channels)
            // At most 256 rows: longer observations are averaged in blocks of steps.
            let steps = member.header.timeSteps, rows = min(steps, 256), columns = channels.count
            var power = [Float](repeating: 0, count: rows * columns), counts = [Float](repeating: 0, count: rows)
            for t in 0..<steps {
                let row = t * rows / steps
                counts[row] += 1
                for c in 0..<columns { power[row * columns + c] += observation.power[t * columns + c] }
            }
            for row in 0..<rows { for c in 0..<columns { power[row * columns + c] /= max(1, counts[row]) } }
            let end = member.start + member.duration
            panels.append(CadencePanel(
                power: power, rows: rows, columns: columns, role: member.role.rawValue, name: URL(fileURLWithPath: member.file).lastPathComponent,
                time: member.start...end, path: (event.path.frequency(at: member.start), event.path.frequency(at: end)),
                snr: event.snr[k], found: event.found[k]))
        }
        let low = cadence.lowestFrequency + (Double(channels.lowerBound) - 0.5) * cadence.channelWidth
        let high = cadence.lowestFrequency + (Double(channels.upperBound) - 0.5) * cadence.channelWidth
        let report = reports[event.member]
        let figure = renderCadence(
            panels, frequency: low...high,
            heading: String(format: "Event %d: %.6f MHz, %.4f Hz/s, %@", number, event.path.frequency, event.path.driftRate, report.classNames[event.hit.best.classIndex]),
            subheading: String(format: "hit SNR %.1f in observation %d (%@), p_signal %.2f; found in %d of %d ON and %d of %d OFF", event.hit.best.track.snr, event.member + 1,
                               URL(fileURLWithPath: cadence.members[event.member].file).lastPathComponent, event.hit.best.probability,
                               cadence.members.indices.filter { cadence.members[$0].role == .on && event.found[$0] }.count, cadence.members.count / 2,
                               cadence.members.indices.filter { cadence.members[$0].role == .off && event.found[$0] }.count, cadence.members.count / 2))
        try figure.write(to: url)
    }

    /// hits.png: the strongest candidates, read again from the file, each with its band in
    /// kHz from the window's first channel and its time in seconds.
    private func drawHits(_ strongest: ArraySlice<ScanReport.Candidate>, report: ScanReport, file: String, to url: URL) throws {
        let (windows, header, classNames) = (report.windows, report.header, report.classNames)
        let pixels = ScanWindows.height * ScanWindows.width
        var tiles: [SpectrogramTile] = []
        for candidate in strongest {
            let w = windows.window(candidate.window)
            let observation = try ObservationFile.read(URL(fileURLWithPath: file), channels: w.channel..<(w.channel + ScanWindows.width))
            var image = [Float](repeating: 0, count: pixels)
            image.withUnsafeMutableBufferPointer { windows.image(w, from: observation, into: $0.baseAddress!) }
            let start = Double(w.timeStep) * header.timeStep, steps = Double(min(ScanWindows.height, header.timeSteps - w.timeStep))
            let axes = SpectrogramAxes(
                xLabel: "kHz above the first channel", x: 0...(Double(ScanWindows.width) * observation.channelWidth * 1000),
                yLabel: "time (s)", y: start...(start + steps * header.timeStep))
            tiles.append(SpectrogramTile(
                pixels: image[...], title: "\(classNames[candidate.classIndex]) p_signal \(Int((candidate.probability * 100).rounded()))%",
                subtitle: String(format: "from %.6f MHz", observation.frequency(ofChannel: w.channel)), axes: axes))
        }
        let picture = renderSpectrogramGrid(
            tiles, columns: 4, height: ScanWindows.height, width: ScanWindows.width, inverted: false,
            heading: "\(URL(fileURLWithPath: file).lastPathComponent): the \(strongest.count) strongest candidate(s)")
        try picture.write(to: url)
    }
}
