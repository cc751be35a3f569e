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
        let bench = ComputeBenchmark(spec: model.spec, batch: batch, repeats: repeats, convolutions: convolutions)
        let net = bench.network
        try printFlopsTable(net)
        var results: [[String: Double]] = []
        for t in threads {
            let m = bench.measure(threads: t)
            let b = Double(batch)
            try Output.line("")
            try Output.line("BLAS threads \(t): sgemm peak \(f1(m.peakGFLOPs)) GFLOP/s")
            try Output.line(row("forward (inference)", m.forward, b, m.forwardGFLOPs, m.peakGFLOPs))
            try Output.line(row("forward + backward", m.forwardBackward, b, m.forwardBackwardGFLOPs, m.peakGFLOPs))
            try Output.line("  \(pad("Adam update", 22)) \(f1(m.optimizer * 1e3)) ms")
            try Output.line(row("training step", m.step, b, m.stepGFLOPs, m.peakGFLOPs))
            // The FLOPs are the direct algorithm's whatever the convolutions run, so a faster
            // algorithm shows as an effective rate above the peak.
            try Output.line("  training step, effective (direct-algorithm FLOPs per second): \(f1(100 * m.stepGFLOPs / m.peakGFLOPs))% of the sgemm peak")
            try Output.line("  memory bandwidth: copy \(f1(m.copyGBs)) GB/s, a += b \(f1(m.addGBs)) GB/s (134 MB buffers)")
            try Output.line("  Adam moves 7 floats per parameter: \(f1(m.adamGBs)) GB/s, \(f1(100 * m.adamGBs / m.addGBs))% of a += b")
            if layers { try printLayerTimes(bench.layerTimes(), optimizerSeconds: m.optimizer, bandwidth: m.addGBs) }
            results.append([
                "threads": Double(t), "sgemm_peak_gflops": m.peakGFLOPs, "batch": b,
                "forward_samples_per_s": b / m.forward, "forward_backward_samples_per_s": b / m.forwardBackward,
                "adam_ms": m.optimizer * 1e3, "step_samples_per_s": b / m.step, "step_gflops": m.stepGFLOPs,
                "step_effective_fraction_of_peak": m.stepGFLOPs / m.peakGFLOPs,
                "copy_gb_per_s": m.copyGBs, "add_gb_per_s": m.addGBs, "adam_fraction_of_add_bandwidth": m.adamGBs / m.addGBs,
            ])
        }
        let flops = net.flopsPerSample
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

    /// The mean time per layer of a training step, and for the memory-bound layers their
    /// bytes per second as a share of `bandwidth` (GB/s, the a += b rate measured in the
    /// same run).
    private func printLayerTimes(_ times: (times: LayerTimes, steps: Int, traffic: [Int: (forward: Int, backward: Int)]), optimizerSeconds: Double,
                                 bandwidth: Double) throws {
        let n = Double(times.steps)
        try Output.line("  per layer, ms per step (mean of \(times.steps)):    forward  backward   memory-bound: share of a += b, forward / backward")
        for (i, name) in times.times.names.enumerated() where times.times.forward[i] + times.times.backward[i] > 0.5e-3 * n {
            var line = "    \(pad(name, 38)) \(lpad(f1(times.times.forward[i] / n * 1e3), 7)) \(lpad(f1(times.times.backward[i] / n * 1e3), 9))"
            if let (forward, backward) = times.traffic[i] {
                func share(_ bytes: Int, _ seconds: Double) -> String { seconds > 0 ? f1(100 * Double(bytes * batch) / (seconds / n) / 1e9 / bandwidth) + "%" : "-" }
                line += "   \(share(forward, times.times.forward[i])) / \(share(backward, times.times.backward[i]))"
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
