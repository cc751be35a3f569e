import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiObservations
import SetiPlot
import SetiTraining

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

            Examples:
              seti-dist scan obs.fil --checkpoint runs/seti/best.safetensors --out scans/obs
              mpirun -np 4 seti-dist scan obs.fil --checkpoint runs/seti/best.safetensors --overlap 96
            """)

    @Argument(help: "Observation file: SIGPROC filterbank (.fil) or Breakthrough Listen HDF5 (.h5).") var file: String
    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "Output folder for candidates.csv and hits.png.") var out: String = "scan"
    @Option(help: "Channels each window shares with the next (0...127).") var overlap: Int = 64
    @Option(help: "Smallest calibrated probability of holding a signal, 1 - p(noise), that makes a candidate (0...1; default: the checkpoint's threshold for a 1% false-alarm rate on its validation noise, or 0.9 for checkpoints without calibration).")
    var minProbability: Double?
    @Option(help: "Candidates drawn in hits.png, strongest first (0...100).") var hits: Int = 16
    @Option(help: "Smallest integrated SNR of a track that makes a hit in hits.csv (0...1000000; turboSETI's -s). Pure noise reaches about 6.")
    var minSnr: Double = 10

    func validate() throws {
        guard (0...127).contains(overlap) else { throw ValidationError("--overlap \(overlap): allowed 0...127 channels") }
        if let minProbability { guard minProbability.isFinite, (0...1).contains(minProbability) else { throw ValidationError("--min-probability \(minProbability): allowed 0...1") } }
        guard (0...100).contains(hits) else { throw ValidationError("--hits \(hits): allowed 0...100") }
        guard minSnr.isFinite, (0...1_000_000).contains(minSnr) else { throw ValidationError("--min-snr \(minSnr): allowed 0...1000000") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
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
            let header = try world.together { try ObservationFile.header(url) }
            let windows = try world.together { try ScanWindows(channels: header.channels, timeSteps: header.timeSteps, overlap: overlap, file: file) }
            try world.onRoot { try createFolder(URL(fileURLWithPath: out)) }

            let began = Date()
            let threshold = minProbability ?? meta.calibration?.noiseThreshold ?? 0.9
            var (probabilities, tracks, _) = try world.together {
                try Self.classify(url, windows: windows, share: windows.share(rank: world.rank, of: world.size), network: network,
                                  classNames: meta.classNames, calibration: meta.calibration, threshold: threshold)
            }
            let seconds = Date().timeIntervalSince(began)
            try world.allreduce(&probabilities, op: .sum)
            try world.allreduce(&tracks, op: .sum)
            let slowest = try world.allreduce(seconds, op: .max)

            try world.onRoot {
                let candidates = try writeCandidates(probabilities, threshold: threshold, windows: windows, header: header, classNames: meta.classNames)
                let found = try writeHits(candidates, tracks: tracks, probabilities: probabilities, windows: windows, header: header, classNames: meta.classNames)
                // No candidates, no picture (and none left from an earlier scan into --out).
                let hitsURL = URL(fileURLWithPath: out).appendingPathComponent("hits.png")
                if candidates.isEmpty || hits == 0 {
                    try? FileManager.default.removeItem(at: hitsURL)
                } else {
                    try drawHits(candidates.prefix(hits), windows: windows, header: header, classNames: meta.classNames, to: hitsURL)
                }
                let cores = world.size * BLAS.threads
                try Output.line(String(format: "%@: %d windows (%d channels x %d time steps, overlap %d) in %.2f s on %d rank(s) x %d BLAS thread(s): %.0f windows/s, %.1f per core",
                             file, windows.count, header.channels, header.timeSteps, overlap, slowest, world.size, BLAS.threads,
                             Double(windows.count) / slowest, Double(windows.count) / slowest / Double(cores)))
                try Output.line("\(candidates.count) candidate window(s) with p_signal >= \(String(format: "%.4g", threshold))\(minProbability == nil && meta.calibration?.noiseThreshold != nil ? " (the checkpoint's 1% false-alarm threshold)" : ""), \(found) hit(s) -> \(out)/candidates.csv, \(out)/hits.csv"
                                + (candidates.isEmpty || hits == 0 ? "" : ", \(out)/hits.png"))
                try Output.finish()
            }
        }
    }

    /// Where one rank's scan time went.
    struct Timing {
        var read = 0.0, encode = 0.0, forward = 0.0, tracks = 0.0
        var total: Double { read + encode + forward + tracks }
    }

    /// Classifies windows `share` of `url` (all windows' slots, zero outside the share): the
    /// probabilities (windows x classes, calibrated) and, where p_signal reaches `threshold`,
    /// the track (start channel, channels a step, SNR), with the time each part took.
    static func classify(_ url: URL, windows: ScanWindows, share: Range<Int>, network: Network, classNames: [String],
                         calibration: Calibration?, threshold: Double) throws -> (probabilities: [Float], tracks: [Double], timing: Timing) {
        let k = classNames.count
        let noise = classNames.firstIndex(of: SignalClass.noise.rawValue)
        var probabilities = [Float](repeating: 0, count: windows.count * k)
        var tracks = [Double](repeating: 0, count: windows.count * 3)
        var timing = Timing()
        var clock = Date()
        func lap() -> Double { defer { clock = Date() }; return Date().timeIntervalSince(clock) }
        // A few thousand windows at a time, so that an observation of any width is read in
        // parts of tens of megabytes.
        for first in stride(from: share.lowerBound, to: share.upperBound, by: 2_048) {
            let part = first..<min(first + 2_048, share.upperBound)
            let observation = try ObservationFile.read(url, channels: windows.channels(of: part))
            timing.read += lap()
            let set = windows.images(part, from: observation, classNames: classNames)
            timing.encode += lap()
            if first == share.lowerBound { try Evaluator.checkCompatible(network, with: set, labelled: false, source: url.path) }
            for (i, p) in Evaluator.probabilities([network], on: set, calibrations: [calibration]).enumerated() { probabilities[part.lowerBound * k + i] = p }
            timing.forward += lap()
            for i in part where 1 - Double(noise.map { probabilities[i * k + $0] } ?? 0) >= threshold {
                let track = windows.track(windows.window(i), from: observation)
                tracks.replaceSubrange((3 * i)..<(3 * i + 3), with: [track.startChannel, track.channelsPerStep, track.snr])
            }
            timing.tracks += lap()
        }
        return (probabilities, tracks, timing)
    }

    struct Candidate {
        let window: Int
        /// The most probable signal class.
        let classIndex: Int
        /// 1 - p(noise).
        let probability: Double
    }

    /// Writes candidates.csv (window order) and returns the candidates, strongest first.
    private func writeCandidates(_ probabilities: [Float], threshold: Double, windows: ScanWindows, header: ObservationHeader, classNames: [String]) throws -> [Candidate] {
        let k = classNames.count
        let noise = classNames.firstIndex(of: SignalClass.noise.rawValue)
        var candidates: [Candidate] = []
        var lines = ["window,channel,frequency_start_mhz,frequency_end_mhz,time_start_s,mjd_start,class,p_signal," + classNames.map { "p_\($0)" }.joined(separator: ",")]
        let lowest = header.ascendingFirstFrequency, width = abs(header.fileChannelWidth)
        for i in 0..<windows.count {
            let p = Array(probabilities[(i * k)..<((i + 1) * k)])
            let signal = 1 - Double(noise.map { p[$0] } ?? 0)
            guard signal >= threshold, let best = p.indices.filter({ $0 != noise }).max(by: { p[$0] < p[$1] }) else { continue }
            candidates.append(Candidate(window: i, classIndex: best, probability: signal))
            let w = windows.window(i)
            let start = Double(w.timeStep) * header.timeStep
            lines.append([
                "\(i)", "\(w.channel)",
                String(format: "%.6f", lowest + Double(w.channel) * width),
                String(format: "%.6f", lowest + Double(w.channel + ScanWindows.width - 1) * width),
                String(format: "%.3f", start), String(format: "%.8f", header.startMJD + start / 86_400),
                classNames[best], String(format: "%.4f", signal),
            ].joined(separator: ",") + "," + p.map { String(format: "%.4f", $0) }.joined(separator: ","))
        }
        try OutputFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: out).appendingPathComponent("candidates.csv"))
        return candidates.sorted { ($0.probability, -$0.window) > ($1.probability, -$1.window) }
    }

    /// hits.csv: the candidate windows merged into one hit per track (``Hits``), strongest
    /// first, in turboSETI's terms: drift rate in Hz/s, SNR integrated along the drift, the
    /// frequency where the track starts, the band searched; then our class and
    /// probabilities. Returns the number of hits.
    private func writeHits(_ candidates: [Candidate], tracks: [Double], probabilities: [Float], windows: ScanWindows,
                           header: ObservationHeader, classNames: [String]) throws -> Int {
        let detections = candidates.map { c -> Detection in
            let w = windows.window(c.window)
            let t = Track(startChannel: tracks[3 * c.window], channelsPerStep: tracks[3 * c.window + 1], snr: tracks[3 * c.window + 2])
            return Detection(window: c.window, classIndex: c.classIndex, probability: c.probability, channel: w.channel, timeStep: w.timeStep, track: t)
        }
        let merged = Hits.merge(detections.filter { $0.track.snr >= minSnr }, windowWidth: ScanWindows.width)
        let lowest = header.ascendingFirstFrequency, width = abs(header.fileChannelWidth), k = classNames.count
        var lines = ["top_hit,drift_rate_hz_s,snr,frequency_mhz,frequency_start_mhz,frequency_end_mhz,channel,time_start_s,mjd_start,class,p_signal,windows,"
                     + classNames.map { "p_\($0)" }.joined(separator: ",")]
        for (n, hit) in merged.enumerated() {
            let d = hit.best, start = Double(d.timeStep) * header.timeStep
            let drift: Double = d.track.channelsPerStep * width * 1e6 / header.timeStep
            let bandStart: Double = lowest + Double(d.channel) * width, bandEnd: Double = lowest + Double(d.channel + ScanWindows.width - 1) * width
            var fields: [String] = ["\(n + 1)", String(format: "%.6f", drift), String(format: "%.2f", d.track.snr)]
            fields += [String(format: "%.6f", lowest + d.absoluteStartChannel * width), String(format: "%.6f", bandStart), String(format: "%.6f", bandEnd)]
            fields += [String(format: "%.1f", d.absoluteStartChannel), String(format: "%.3f", start), String(format: "%.8f", header.startMJD + start / 86_400)]
            fields += [classNames[d.classIndex], String(format: "%.4f", d.probability), "\(hit.windows)"]
            fields += (0..<k).map { String(format: "%.4f", probabilities[d.window * k + $0]) }
            lines.append(fields.joined(separator: ","))
        }
        try OutputFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: out).appendingPathComponent("hits.csv"))
        return merged.count
    }

    /// hits.png: the strongest candidates, read again from the file, each with its band in
    /// kHz from the window's first channel and its time in seconds.
    private func drawHits(_ strongest: ArraySlice<Candidate>, windows: ScanWindows, header: ObservationHeader, classNames: [String], to url: URL) throws {
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
