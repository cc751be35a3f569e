import SetiRandom
import ArgumentParser
import Foundation
import SetiData
import SetiNet

/// `seti-dist bench compute`: the sgemm peak of this machine and the model's throughput,
/// measured in one run so the ratio is meaningful on a shared, noisy machine.
struct BenchCompute: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute",
        abstract: "sgemm peak vs. forward, forward+backward and full training step of a SETI CNN.",
        discussion: """
            For each BLAS thread count: sgemm on 2048x2048 matrices (the peak), and the model \
            at the given batch: forward (inference), forward + backward, and the full \
            training step (forward, backward, Adam), and the memory bandwidth (copy and \
            a += b over 134 MB). The measurements run in rounds, one of each per round, and \
            each figure is its fastest round. Adam and, with --layers, the element-wise \
            layers are reported as a share of the a += b bandwidth (the bytes they must move \
            per second). GFLOP/s counts the GEMM \
            work of the direct algorithm (see the FLOPs table printed first), whatever the \
            convolutions run, so the step's effective share of the peak is the figure to \
            watch: above 100% only with fewer multiplications than direct convolution. Ends with the peak resident memory, the OpenBLAS \
            kernels measured (set OPENBLAS_CORETYPE to choose them) and the instruction set seti-dist's own C kernels run.

            Example:
              seti-dist bench compute --threads 1 --layers
            """)

    @Option(help: "Batch size.")
    var batch: Int = 32

    @Option(help: "Timed rounds of the measurements (after one warm-up round); each figure is its fastest round.")
    var repeats: Int = 10

    @Option(parsing: .upToNextOption, help: "BLAS thread counts to measure.")
    var threads: [Int] = [1, 2]

    @Option(help: "The network to measure: deep (the standard recipe's) or classic (the course's Keras SETI CNN).")
    var model: ModelName = .deep

    @Option(help: "Convolution algorithm: winograd (where it applies; the default) or im2col everywhere (the direct algorithm).")
    var convolutions: ConvolutionAlgorithm = .winograd

    @Flag(help: "Also print where a training step goes: milliseconds per layer, forward and backward.")
    var layers = false

    @Flag(help: "Print the result as one JSON object too.")
    var json = false

    func validate() throws {
        guard (1...1024).contains(batch) else { throw ValidationError("--batch \(batch): allowed 1...1024") }
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats \(repeats): allowed 1...1000") }
        guard !threads.isEmpty, threads.allSatisfy({ (1...1024).contains($0) }) else { throw ValidationError("--threads: each allowed 1...1024") }
    }

    func run() throws {
        let net = Network(spec: model.spec, maxBatch: batch, seed: 1, convolutions: convolutions)
        let adam = Adam(parameterCount: net.parameters.count)
        let flops = net.flopsPerSample
        try printFlopsTable(net)
        var input = [Float](repeating: 0, count: batch * net.inputSize)
        var rng = SplitMix64(seed: 1)
        for i in input.indices { input[i] = 0.6 + 0.15 * Float(rng.next() >> 40) / Float(1 << 24) }
        let labels = (0..<batch).map { Int32($0 % 4) }

        func runForwardBackward() {
            net.forward(input, batch: batch, options: ForwardOptions(training: true))
            _ = net.loss(labels: labels, batch: batch, gradientScale: 1 / Float(batch))
            net.backward(batch: batch)
        }
        func runUpdate() { adam.step(parameters: net.parameters, gradients: UnsafeBufferPointer(net.gradients), lr: 1e-4) }
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), bm = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        // The memory bandwidth the element-wise work is measured against: buffers far
        // beyond any cache (134 MB), whatever the model's size.
        let count = 1 << 25
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: count), y = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        x.initialize(repeating: 1)
        y.initialize(repeating: 2)
        defer { x.deallocate(); y.deallocate() }
        // Split over the BLAS threads, as the optimizer's update is.
        func copy() { Parallel.forEachRange(count) { r in (y.baseAddress! + r.lowerBound).update(from: x.baseAddress! + r.lowerBound, count: r.count) } }
        func add() { Parallel.forEachRange(count) { r in for i in r { y[i] += x[i] } } }

        var results: [[String: Double]] = []
        for t in threads {
            BLAS.threads = t
            // Rounds interleave the sgemm peak with the model, so both see the same machine.
            let seconds = fastestOfRounds([
                { BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: bm, ldb: n, c: &c, ldc: n) },
                { net.forward(input, batch: batch, options: .inference) },
                runForwardBackward,
                runUpdate,
                { runForwardBackward(); runUpdate() },
                copy,
                add,
            ])
            let peak = 2 * Double(n * n * n) / seconds[0] / 1e9
            let (forward, forwardBackward, optimizer, step) = (seconds[1], seconds[2], seconds[3], seconds[4])
            let b = Double(batch)
            let fwdGflops = b * Double(flops.forward) / forward / 1e9
            let trainFlops = b * Double(flops.forward + flops.backward)
            let stepGflops = trainFlops / step / 1e9
            try Output.line("")
            try Output.line("BLAS threads \(t): sgemm peak \(f1(peak)) GFLOP/s")
            try Output.line(row("forward (inference)", forward, b, fwdGflops, peak))
            try Output.line(row("forward + backward", forwardBackward, b, trainFlops / forwardBackward / 1e9, peak))
            try Output.line("  \(pad("Adam update", 22)) \(f1(optimizer * 1e3)) ms")
            try Output.line(row("training step", step, b, stepGflops, peak))
            // The FLOPs are the direct algorithm's whatever the convolutions run, so a faster
            // algorithm shows as an effective rate above the peak.
            try Output.line("  training step, effective (direct-algorithm FLOPs per second): \(f1(100 * stepGflops / peak))% of the sgemm peak")
            let bytes = Double(4 * count)
            let copyRate = 2 * bytes / seconds[5] / 1e9, addRate = 3 * bytes / seconds[6] / 1e9
            let adamRate = 7 * Double(4 * net.parameters.count) / optimizer / 1e9
            try Output.line("  memory bandwidth: copy \(f1(copyRate)) GB/s, a += b \(f1(addRate)) GB/s (134 MB buffers)")
            try Output.line("  Adam moves 7 floats per parameter: \(f1(adamRate)) GB/s, \(f1(100 * adamRate / addRate))% of a += b")
            if layers {
                try printLayerTimes(net, optimizerSeconds: optimizer, step: runForwardBackward, bandwidth: addRate)
            }
            results.append([
                "threads": Double(t), "sgemm_peak_gflops": peak, "batch": b,
                "forward_samples_per_s": b / forward, "forward_backward_samples_per_s": b / forwardBackward,
                "adam_ms": optimizer * 1e3, "step_samples_per_s": b / step, "step_gflops": stepGflops,
                "step_effective_fraction_of_peak": stepGflops / peak,
                "copy_gb_per_s": copyRate, "add_gb_per_s": addRate, "adam_fraction_of_add_bandwidth": adamRate / addRate,
            ])
        }
        let peakMB = Double(peakResidentBytes()) / 1e6
        try Output.line("\npeak resident memory: \(f1(peakMB)) MB")
        // The peak, and so every share of it, depends on which kernels OpenBLAS runs.
        let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].flatMap { $0.isEmpty ? nil : "set by OPENBLAS_CORETYPE=\($0)" }
        try Output.line("OpenBLAS kernels: \(BLAS.coreName) (\(pinned ?? "OpenBLAS's choice for this CPU")); C kernels: \(kernelInstructionSet)")
        if json {
            let object: [String: Any] = ["runs": results, "peak_resident_mb": peakMB, "openblas_core": BLAS.coreName,
                                         "c_kernels": kernelInstructionSet,
                                         "flops_per_sample": ["forward": flops.forward, "backward": flops.backward]]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            try Output.line(String(decoding: data, as: UTF8.self))
        }
    }

    /// The shortest time of each body, in seconds, over `repeats` rounds that run every
    /// body once in turn (after a warm-up round). On a shared machine, the fastest run is
    /// the one least disturbed by neighbours.
    private func fastestOfRounds(_ bodies: [() -> Void]) -> [Double] {
        var fastest = [Double](repeating: .infinity, count: bodies.count)
        for round in 0...repeats {
            for (i, body) in bodies.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if round > 0 { fastest[i] = min(fastest[i], seconds) }
            }
        }
        return fastest
    }

    /// Runs `step` `repeats` times with per-layer timing on and prints the mean per layer,
    /// and for the memory-bound layers their bytes per second as a share of `bandwidth`
    /// (GB/s, the a += b rate measured in the same run).
    private func printLayerTimes(_ net: Network, optimizerSeconds: Double, step: () -> Void, bandwidth: Double) throws {
        let times = LayerTimes(net)
        net.layerTimes = times
        defer { net.layerTimes = nil }
        for _ in 0..<repeats { step() }
        let n = Double(repeats)
        let traffic = Dictionary(uniqueKeysWithValues: net.memoryTrafficPerLayer.map { ($0.layer, ($0.forward, $0.backward)) })
        try Output.line("  per layer, ms per step (mean of \(repeats)):    forward  backward   memory-bound: share of a += b, forward / backward")
        for (i, name) in times.names.enumerated() where times.forward[i] + times.backward[i] > 0.5e-3 * n {
            var line = "    \(pad(name, 38)) \(lpad(f1(times.forward[i] / n * 1e3), 7)) \(lpad(f1(times.backward[i] / n * 1e3), 9))"
            if let (forward, backward) = traffic[i] {
                func share(_ bytes: Int, _ seconds: Double) -> String { seconds > 0 ? f1(100 * Double(bytes * batch) / (seconds / n) / 1e9 / bandwidth) + "%" : "-" }
                line += "   \(share(forward, times.forward[i])) / \(share(backward, times.backward[i]))"
            }
            try Output.line(line)
        }
        try Output.line("    \(pad("Adam update", 38)) \(lpad(f1(optimizerSeconds * 1e3), 7))")
    }

    private func printFlopsTable(_ net: Network) throws {
        try Output.line("FLOPs per sample (multiply-add = 2), GEMM layers of the model:")
        for layer in net.flopsPerLayer {
            try Output.line("  \(pad(layer.name, 10)) \(pad(layer.shape, 30)) forward \(lpad(f1(Double(layer.forward) / 1e6), 7)) M   backward \(lpad(f1(Double(layer.backward) / 1e6), 7)) M")
        }
        let f = net.flopsPerSample
        try Output.line("  forward \(f1(Double(f.forward) / 1e6)) M + backward \(f1(Double(f.backward) / 1e6)) M = \(f1(Double(f.forward + f.backward) / 1e6)) MFLOP per training sample")
    }

    private func row(_ name: String, _ seconds: Double, _ batch: Double, _ gflops: Double, _ peak: Double) -> String {
        "  \(pad(name, 22)) \(f1(seconds * 1e3)) ms  \(f1(batch / seconds)) samples/s  \(f1(gflops)) GFLOP/s  (\(f1(100 * gflops / peak))% of peak)"
    }
}
