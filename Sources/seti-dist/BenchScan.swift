import ArgumentParser
import Foundation
import SetiData
import SetiFiles
import SetiNet
import SetiObservations
import SetiRandom
import SetiTraining

/// `seti-dist bench scan`: scan's speed end to end against the forward pass alone and the
/// sgemm peak, for a filterbank and a bitshuffle-compressed HDF5 file of the same data.
struct BenchScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan speed: windows/s per core end to end, the forward pass alone, the share of the sgemm peak, observation MB/s.",
        discussion: """
            Writes a synthetic observation (chi-squared noise with drifting tones, 16 steps \
            like Breakthrough Listen's fine-channel products) as .fil and as bitshuffle/LZ4 \
            .h5 in a temporary folder, and scans both with the standard recipe's network (or \
            --model's; random weights: the work does not depend on them) on every rank, as scan does: reading, \
            stretching and encoding on a second thread a part ahead of the forward pass, \
            then tracks. Prints, per format, windows/s end to end and per core, the share of \
            the wall time in the forward pass, waiting for data and tracks (and how much \
            reading and encoding took beside them), the forward pass alone on \
            the same windows, the effective share of the sgemm peak (the forward pass's FLOPs \
            per second, so above 100% where Winograd saves multiplications) and the file's MB/s.

            Examples:
              seti-dist bench scan
              mpirun -np 2 seti-dist bench scan --channels 262144
            """)

    @Option(help: "Channels of the synthetic observation (128...4194304).") var channels: Int = 65_536
    @Option(help: "Time steps (\(ScanWindows.minimumTimeSteps)...1024; 16 as Breakthrough Listen's fine-channel products).") var steps: Int = 16
    @Option(help: "Timed repeats of each measurement; the fastest counts (1...20).") var repeats: Int = 2
    @Option(help: "The network: deep (the standard recipe's) or classic (the course's Keras SETI CNN).") var model: ModelName = .deep

    func validate() throws {
        guard (128...4_194_304).contains(channels) else { throw ValidationError("--channels \(channels): allowed 128...4194304") }
        guard (ScanWindows.minimumTimeSteps...1024).contains(steps) else { throw ValidationError("--steps \(steps): allowed \(ScanWindows.minimumTimeSteps)...1024") }
        guard (1...20).contains(repeats) else { throw ValidationError("--repeats \(repeats): allowed 1...20") }
    }

    func run() throws {
        Job.run { job in
            let world = job.world
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seti-bench-scan-\(try world.broadcast(Int64(getpid()), root: 0))")
            defer { if world.isRoot { try? FileManager.default.removeItem(at: folder) } }
            try world.onRoot { try writeObservation(to: folder) }
            try world.barrier()
            let network = Network(spec: model.spec, maxBatch: 64, seed: 1)
            let classNames = SignalClass.classic.map(\.rawValue)
            let peak = sgemmPeak()
            let forwardFlops = Double(network.flopsPerSample.forward)
            let cores = Double(world.size * BLAS.threads)
            try world.onRoot {
                try Output.line("bench scan: \(channels) channels x \(steps) steps, \(world.size) rank(s) x \(BLAS.threads) BLAS thread(s); rank 0's sgemm peak \(f1(peak)) GFLOP/s; C kernels: \(kernelInstructionSet)")
            }
            for name in ["obs.fil", "obs.h5"] {
                let url = folder.appendingPathComponent(name)
                let header = try ObservationFile.header(url)
                let windows = try ScanWindows(channels: header.channels, timeSteps: header.timeSteps, overlap: 64, file: url.path)
                let share = windows.share(rank: world.rank, of: world.size)
                var best = WindowClassifier.Timing(total: .infinity)
                var forwardAlone = Double.infinity
                for _ in 0..<repeats {
                    try world.barrier()
                    let (_, _, timing) = try WindowClassifier.classify(url, header: header, windows: windows, share: share, network: network, classNames: classNames, calibration: nil, threshold: 0.9)
                    if timing.total < best.total { best = timing }
                    // The forward pass alone on this rank's windows, already encoded.
                    let observation = try ObservationFile.read(url, channels: windows.channels(of: share.prefix(512)))
                    let set = windows.images(share.prefix(512), from: observation, classNames: classNames)
                    let start = Date()
                    _ = Evaluator.probabilities([network], on: set)
                    forwardAlone = min(forwardAlone, Date().timeIntervalSince(start) / Double(max(1, set.count)))
                }
                let slowest = try world.allreduce(best.total, op: .max)
                let forwardRate = try world.allreduce(1 / forwardAlone, op: .sum)  // samples/s, all ranks
                let bytes = Double((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0)
                try world.onRoot {
                    let rate = Double(windows.count) / slowest
                    try Output.line(String(format: "  %@: %d windows in %.2f s: %.0f windows/s, %.1f per core; forward %.0f%%, waiting for data %.0f%%, tracks %.0f%%; overlapped with them: read %.0f%%, stretch and encode %.0f%% (rank 0)",
                                           name, windows.count, slowest, rate, rate / cores, 100 * best.forward / best.total, 100 * best.waiting / best.total,
                                           100 * best.tracks / best.total, 100 * best.read / best.total, 100 * best.encode / best.total))
                    try Output.line(String(format: "    forward pass alone %.0f samples/s (%.1f per core): end to end at %.0f%% of it; effective %.0f%% of the sgemm peak per core end to end, %.0f%% for the forward pass; %.1f MB/s of observation",
                                           forwardRate, forwardRate / cores, 100 * rate / forwardRate,
                                           100 * rate * forwardFlops / 1e9 / (peak * Double(world.size)), 100 * forwardRate * forwardFlops / 1e9 / (peak * Double(world.size)),
                                           bytes / slowest / 1e6))
                }
            }
            try world.onRoot { try Output.finish() }
        }
    }

    /// Noise and a few drifting tones, as .fil and compressed .h5.
    private func writeObservation(to folder: URL) throws {
        var header = ObservationHeader()
        (header.firstFrequency, header.fileChannelWidth, header.timeStep, header.startMJD, header.timeSteps, header.channels) = (8421, -2.79e-6, 18.25, 60000, steps, channels)
        var rng = SplitMix64(seed: 30)
        var power = (0..<(steps * channels)).map { _ in Float(10 - 5 * log(max(1e-12, rng.uniform01())) - 5 * log(max(1e-12, rng.uniform01()))) }
        for tone in stride(from: 100, to: channels - 200, by: max(1000, channels / 16)) {
            for t in 0..<steps { power[t * channels + tone + t] += 40 }
        }
        try createFolder(folder)
        try Filterbank.write(power, header: header, to: folder.appendingPathComponent("obs.fil"))
        try BreakthroughListenHDF5.write(power, header: header, to: folder.appendingPathComponent("obs.h5"), compressed: true)
    }

    /// GFLOP/s of a 2048 x 2048 sgemm on this rank's BLAS threads (the fastest of three).
    private func sgemmPeak() -> Double {
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var fastest = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
            fastest = min(fastest, Date().timeIntervalSince(start))
        }
        return 2 * Double(n * n * n) / fastest / 1e9
    }
}
