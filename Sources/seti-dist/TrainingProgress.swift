import Foundation
import SetiNet
import SetiTraining

/// How much `train` prints (Keras's `verbose`).
enum Verbosity {
    case quiet, normal, verbose
}

/// Keras's `model.summary()` for `spec`: each layer's name and class, output shape and
/// weights, then the totals.
func modelSummaryLines(_ spec: ModelSpec) -> [String] {
    func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    let rows = spec.summary
    var lines = ["Model: seti-cnn (\(spec.height) x \(spec.width) x \(spec.channels) in, \(spec.classes) classes out)",
                 pad("Layer (type)", 44) + pad("Output Shape", 22) + pad("Param #", 13) + "FLOPs", String(repeating: "-", count: 88)]
    for row in rows {
        let shape = "(None, " + row.outputShape.map(String.init).joined(separator: ", ") + ")"
        lines.append(pad("\(row.name) (\(row.kind))", 44) + pad(shape, 22) + pad(grouped(row.trainable + row.nonTrainable), 13) + (row.flops > 0 ? flopsText(row.flops) : "-"))
    }
    let trainable = rows.map(\.trainable).reduce(0, +), fixed = rows.map(\.nonTrainable).reduce(0, +)
    lines += [String(repeating: "-", count: 88),
              "Total params: \(grouped(trainable + fixed)) (\(String(format: "%.2f", Double(4 * (trainable + fixed)) / 1_048_576)) MB)",
              "Trainable params: \(grouped(trainable))", "Non-trainable params: \(grouped(fixed))",
              "Forward FLOPs per sample: \(flopsText(rows.map(\.flops).reduce(0, +))) (convolutions and dense layers)"]
    return lines
}

/// The model in one line, for the start of a run.
func modelSummaryLine(_ spec: ModelSpec) -> String {
    let rows = spec.summary
    let weights = rows.map { $0.trainable + $0.nonTrainable }.reduce(0, +)
    return "  model: \(rows.count) layers, \(grouped(weights)) weights (\(String(format: "%.1f", Double(4 * weights) / 1_048_576)) MB), \(flopsText(rows.map(\.flops).reduce(0, +))) FLOPs a sample forward (seti-dist summary lists the layers)"
}

/// A count with thousands separated: "33,616,132".
private func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    return String(digits.enumerated().flatMap { i, d in (i > 0 && (digits.count - i) % 3 == 0 ? [","] : []) + [d] })
}

/// FLOPs in engineering units: "1.39 G", "6.55 M".
private func flopsText(_ flops: Int) -> String {
    let value = Double(flops)
    for (unit, scale) in [("G", 1e9), ("M", 1e6), ("k", 1e3)] where value >= scale { return String(format: "%.3g %@", value / scale, unit) }
    return "\(flops)"
}

/// Rank 0's terminal output for `train`: the start line, a live progress line with ETA,
/// Keras-style epoch lines and checkpoint notes, from the trainer's events.
final class TrainingProgress {
    /// Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's own output goes
    /// to a file, so only a process started without mpirun trusts isatty; otherwise a plain
    /// line every tenth of the epoch keeps logs readable.
    private let terminal = isatty(1) != 0 && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] == nil
    private var lastPrinted = 0
    /// Wall time of each epoch this process has finished (training, validation, saving),
    /// for the whole run's ETA.
    private var epochSeconds: [Double] = []
    private var lineOpen = false
    /// Where the ranks run (see Job), printed after the start line.
    private let binding: String
    /// How the ranks sum their gradients (``TrainConfig/exchangeDescription(ranks:)``), printed
    /// after it when there is something to say.
    private let exchange: String?

    private let verbosity: Verbosity

    init(binding: String, exchange: String?, verbosity: Verbosity) {
        self.binding = binding
        self.exchange = exchange
        self.verbosity = verbosity
    }

    func handle(_ event: TrainingEvent) {
        guard verbosity != .quiet else { return }
        switch event {
        case .started(let s):
            var line = "seti-dist train: \(s.trainingSamples) training and \(s.validationSamples) validation spectrograms, \(s.ranks) rank(s) x batch \(s.batchPerRank) = global batch \(s.globalBatch), \(s.blasThreads) BLAS thread(s) per rank"
            if let from = s.initialWeights { line += "; weights from \(from)" }
            if s.firstEpoch > 0 { line += "; resuming after epoch \(s.firstEpoch) of \(s.epochs)" }
            say(line)
            if !binding.isEmpty { say("  binding: \(binding)") }
            if let exchange { say("  exchange: \(exchange)") }
            if verbosity == .verbose { modelSummaryLines(s.model).forEach(say) } else { say(modelSummaryLine(s.model)) }
        case .step(let epoch, let epochs, let step, let steps, let loss, let accuracy, let samples, let elapsed):
            if step == 1 { lastPrinted = 0 }
            let rate = Double(samples) / max(elapsed, 1e-9)
            let eta = elapsed / Double(step) * Double(steps - step)
            // Later epochs take what finished ones took (this one's pace before any finished).
            let perEpoch = epochSeconds.isEmpty ? elapsed / Double(step) * Double(steps) : epochSeconds.reduce(0, +) / Double(epochSeconds.count)
            let run = eta + perEpoch * Double(epochs - epoch)
            let text = String(format: "epoch %d/%d  step %d/%d  loss %.4g  accuracy %.4f  %.0f samples/s  ETA %@ (run %@)",
                              epoch, epochs, step, steps, loss, accuracy, rate, Self.clock(eta), Self.clock(run))
            if terminal {
                Output.progress("\r" + text, ending: "\u{1B}[K")
                lineOpen = true
            } else if verbosity == .verbose || step == steps || step - lastPrinted >= max(1, steps / 10) {
                say(text)
                lastPrinted = step
            }
        case .phase(let phase, let epoch, let epochs):
            // Only the live line says it: a log gets the epoch line a moment later.
            guard terminal else { break }
            Output.progress("\r" + String(format: "epoch %d/%d  %@ ...", epoch, epochs, phase.rawValue), ending: "\u{1B}[K")
            lineOpen = true
        case .epochEnded(let r, let epochs):
            epochSeconds.append(r.seconds + (r.validation_seconds ?? 0) + (r.checkpoint_seconds ?? 0))
            say(String(format: "Epoch %d/%d - %.1fs (validation %.1fs, saving %.1fs) - %.0f samples/s - loss: %.4g - accuracy: %.4f - val_loss: %.4g - val_accuracy: %.4f - lr: %.3g",
                       r.epoch, epochs, r.seconds, r.validation_seconds ?? 0, r.checkpoint_seconds ?? 0, r.samples_per_second,
                       r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.lr))
        case .learningRateReduced(let factor, let scale):
            say("  val_loss has not improved: learning rate x\(factor) (now x\(scale) of the schedule)")
        case .bestSaved(let url, let monitor, let value):
            say("  \(monitor.rawValue) improved to \(String(format: "%.4f", value)): saved \(url.path)")
        case .stoppedEarly(let epoch, let patience):
            say("  early stopping after epoch \(epoch): no improvement in \(patience) epoch(s)")
        }
    }

    /// A whole line, after clearing a live progress line.
    private func say(_ text: String) {
        Output.progress((lineOpen ? "\r\u{1B}[K" : "") + text)
        lineOpen = false
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
