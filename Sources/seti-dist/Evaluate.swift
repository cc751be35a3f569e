import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// `seti-dist evaluate`: classification report and confusion matrix of a checkpoint.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class precision/recall/F1, the confusion matrix and, on simulated data, sensitivity curves.",
        discussion: """
            Without --data, the checkpoint's own run's data (its folder, or the same simulated \
            set, regenerated from its seed). Give --checkpoint several times for an ensemble \
            (probabilities averaged); --tta averages each image with its mirror image in \
            frequency.

            Sensitivity (injection-recovery) curves need each sample's generation \
            parameters: simulated data have them (simulate writes parameters.csv beside the \
            images), and evaluate prints recall per class by peak SNR per pixel, by drift \
            (narrowband) and by change of drift (narrowbanddrd); --sensitivity-png draws it. \
            --shifted evaluates on simulated sets that move what a real telescope would \
            move (noise statistics, outliers, bandpass, track profile, drift range, RFI, \
            quantisation).

            Examples:
              seti-dist evaluate --checkpoint runs/seti/best.safetensors
              seti-dist evaluate --checkpoint runs/seti/best.safetensors --data data/sim --png cm.png --sensitivity-png snr.png
              seti-dist evaluate --checkpoint runs/a/best.safetensors --checkpoint runs/b/best.safetensors --tta
              seti-dist evaluate --checkpoint runs/seti/best.safetensors --shifted
              seti-dist evaluate --checkpoint runs/seti/best.safetensors --json > report.json
            """)

    @Option(help: "Checkpoint (.safetensors) written by train; repeat for an ensemble.") var checkpoint: [String]
    @Option(help: "Data folder (default: the data the first checkpoint's run used).") var data: String?
    @Option(help: "Which part of the data.") var split: DataFolder.Split = .validation
    @Flag(help: "Test-time augmentation: average each image's prediction with its frequency mirror's.") var tta = false
    @Option(help: "Confusion-matrix picture to write.") var png: String?
    @Option(help: "Sensitivity picture to write: recall vs peak SNR, one line per class (simulated data).") var sensitivityPng: String?
    @Flag(help: "Also evaluate on the shifted simulated sets, one line each.") var shifted = false
    @Option(help: "Samples per class of each shifted set (1...10000).") var shiftedPerClass: Int = 200
    @Flag(help: "Print one JSON object (accuracy, loss, per-class scores, confusion matrix, sensitivity) instead of the report.") var json = false

    func validate() throws {
        guard !checkpoint.isEmpty else { throw ValidationError("give at least one --checkpoint") }
        guard (1...10_000).contains(shiftedPerClass) else { throw ValidationError("--shifted-per-class \(shiftedPerClass): allowed 1...10000") }
    }

    func run() throws {
        for output in [png, sensitivityPng].compactMap({ $0 }) { try OutputFile.check(URL(fileURLWithPath: output)) }
        let loaded = try checkpoint.map { try Checkpoint.loadNetwork(URL(fileURLWithPath: $0), maxBatch: 64) }
        let networks = loaded.map(\.network), meta = loaded[0].metadata
        for (path, other) in zip(checkpoint, loaded).dropFirst() where other.metadata.classNames != meta.classNames {
            throw CommandFailure("\(path): its classes (\(other.metadata.classNames.joined(separator: ", "))) differ from \(checkpoint[0])'s")
        }
        let (set, parameters) = try load(meta)
        for (network, path) in zip(networks, checkpoint) {
            try Evaluator.checkCompatible(network, with: set, classNames: meta.classNames, source: data ?? path)
        }
        guard set.count > 0 else { throw CommandFailure("\(data ?? checkpoint[0]): the \(split.rawValue) data hold no samples") }
        let k = meta.classNames.count
        // The checkpoints' temperature scaling (fitted when their runs ended), and the
        // calibration error it leaves on these data.
        let calibrations = loaded.map(\.metadata.calibration)
        let raw = Evaluator.probabilities(networks, on: set, flips: tta)
        var probabilities = raw
        if networks.count == 1, let calibration = calibrations[0] {
            calibration.apply(&probabilities, classes: k)
        } else if calibrations.contains(where: { $0 != nil }) {
            probabilities = Evaluator.probabilities(networks, on: set, flips: tta, calibrations: calibrations)
        }
        let calibrationReport = calibrations.contains(where: { $0 != nil }) ? CalibrationReport(
            temperatures: calibrations.map { $0?.temperature ?? 1 },
            eceBefore: Calibration.expectedCalibrationError(raw, labels: set.labels, classes: k),
            eceAfter: Calibration.expectedCalibrationError(probabilities, labels: set.labels, classes: k)) : nil
        let evaluation = Evaluator.evaluation(of: probabilities, on: set, classes: k)
        let sensitivity = parameters.map {
            SensitivityReport(classNames: set.classNames, labels: set.labels, predicted: Evaluator.predictions(probabilities, k), parameters: $0)
        }
        let shiftedRows: [ShiftedEvaluation]
        if shifted {
            let classes = meta.classNames.compactMap(SignalClass.init(rawValue:))
            guard classes.count == meta.classNames.count else {
                throw CommandFailure("--shifted needs a model of the simulator's classes; this one has \(meta.classNames.joined(separator: ", "))")
            }
            shiftedRows = Evaluator.shiftedEvaluations(networks, classes: classes, perClass: shiftedPerClass, flips: tta, calibrations: calibrations)
        } else {
            shiftedRows = []
        }
        if json {
            let report = JSONReport(evaluation: evaluation.summary(classNames: set.classNames), calibration: calibrationReport, sensitivity: sensitivity, shifted: shiftedRows)
            try Output.line(String(decoding: try JSONLines.encode(report, snakeCase: true), as: UTF8.self))
        } else {
            try printReport(evaluation, set: set, sensitivity: sensitivity, shifted: shiftedRows)
            if let c = calibrationReport {
                let fitted = calibrations.compactMap { $0 }.allSatisfy { $0.fitSamples != nil } ? "fitted on fresh samples of the run's data" : "fitted on the run's validation set"
                let kind = calibrations.compactMap { $0 }.allSatisfy { $0.matrix != nil } ? "matrix scaling"
                    : "temperature " + c.temperatures.map { String(format: "%.3g", $0) }.joined(separator: ", ")
                // A matrix may move predictions; the run's val_accuracy is the network's own.
                let rawAccuracy = Evaluator.evaluation(of: raw, on: set, classes: k).accuracy
                try Output.line(String(format: "\ncalibration: %@ (%@); expected calibration error here %.4f uncalibrated, %.4f calibrated; accuracy %.4f uncalibrated",
                                       kind, fitted, c.eceBefore, c.eceAfter, rawAccuracy))
            } else {
                try Output.line("\ncalibration: none in the checkpoint (written before 0.16); probabilities as the network gives them")
            }
        }
        let title = URL(fileURLWithPath: checkpoint[0]).lastPathComponent + (checkpoint.count > 1 ? " + \(checkpoint.count - 1) more" : "") + (tta ? ", TTA" : "")
        if let png {
            try renderConfusionMatrix(evaluation.confusion, classNames: set.classNames,
                                      heading: "\(title): accuracy \(String(format: "%.4f", evaluation.accuracy))")
                .write(to: URL(fileURLWithPath: png))
            if !json { try Output.line("wrote \(png)") }
        }
        if let sensitivityPng {
            guard let sensitivity else { throw CommandFailure("--sensitivity-png needs simulated data with their parameters.csv") }
            try sensitivityChart(sensitivity, heading: "\(title): recall vs signal strength").write(to: URL(fileURLWithPath: sensitivityPng))
            if !json { try Output.line("wrote \(sensitivityPng)") }
        }
        try Output.finish()
    }

    /// The data and, for simulated data, each sample's generation parameters.
    private func load(_ meta: CheckpointMetadata) throws -> (SpectrogramSet, [SignalParameters]?) {
        if let data {
            let folder = URL(fileURLWithPath: data)
            let set = try DataFolder.load(split, from: folder)
            return (set, try DataFolder.loadParameters(split, from: folder, count: set.count))
        }
        let config = meta.config
        guard config.data == nil else {
            let folder = URL(fileURLWithPath: config.data!)
            let set = try DataFolder.load(split, from: folder)
            return (set, try DataFolder.loadParameters(split, from: folder, count: set.count))
        }
        let simulator = config.simulator(seed: config.seed, backgrounds: try config.loadBackgrounds())
        let perClass = split == .train ? config.simulatedPerClass : max(1, config.simulatedPerClass / 4)
        let (set, parameters) = simulator.generateWithParameters(perClass: perClass, split: split)
        return (set, parameters)
    }

    struct CalibrationReport: Codable {
        var temperatures: [Double]
        var eceBefore: Double
        var eceAfter: Double
    }

    struct JSONReport: Codable {
        var evaluation: Evaluation.Summary
        var calibration: CalibrationReport?
        var sensitivity: SensitivityReport?
        var shifted: [ShiftedEvaluation]
    }

    private func printReport(_ evaluation: Evaluation, set: SpectrogramSet, sensitivity: SensitivityReport?, shifted: [ShiftedEvaluation]) throws {
        try Output.line(evaluation.report(classNames: set.classNames))
        try Output.line(String(format: "\nloss %.4f  accuracy %.4f  (%d samples)", evaluation.loss, evaluation.accuracy, evaluation.count))
        try Output.line("\nconfusion matrix (rows: true, columns: predicted)")
        let width = max(16, (set.classNames.map(\.count).max() ?? 0) + 2)
        for (c, row) in evaluation.confusion.enumerated() {
            try Output.line(set.classNames[c].padding(toLength: width, withPad: " ", startingAt: 0) + row.map { String(format: "%7d", $0) }.joined())
        }
        if let sensitivity { try Output.line("\n" + sensitivity.table) }
        if !shifted.isEmpty {
            try Output.line("\nshifted sets (\(shiftedPerClass) per class each):")
            try Output.line("  shift                accuracy  faint-third recall  noise recall")
            for row in shifted {
                try Output.line("  " + row.shift.padding(toLength: 20, withPad: " ", startingAt: 0)
                                + String(format: " %8.3f  %18.3f  %12.3f", row.accuracy, row.faintThirdRecall ?? .nan, row.noiseRecall ?? .nan))
            }
        }
    }

    /// Recall vs peak SNR, one line per class, x at each bin's middle, with the bin's count
    /// and its 95% Wilson interval; an empty bin is a gap in the line, not a bridge.
    private func sensitivityChart(_ report: SensitivityReport, heading: String) -> Figure {
        let colors: [RGB] = [.blue, .orange, .green, .red, .gray, .black, .purple]
        let series = report.curves.enumerated().map { n, curve in
            Series(name: curve.className,
                   points: curve.bySNR.map { bin in ((bin.low + (bin.high ?? bin.low * 1.5)) / 2, bin.recall ?? .nan) },
                   color: colors[n % colors.count],
                   intervals: curve.bySNR.map { wilsonInterval(correct: $0.correct, samples: $0.samples) },
                   notes: curve.bySNR.map { $0.samples > 0 ? "n=\($0.samples)" : "" })
        }
        return renderLineCharts([ChartPanel(title: "recall by signal strength", xLabel: "peak SNR per pixel (noise standard deviations)",
                                            yLabel: "recall (95% interval)", series: series, integerX: false, yRange: -0.02...1.02)], heading: heading)
    }

    /// The 95% Wilson score interval of `correct` of `samples` (0...1 for an empty bin).
    private func wilsonInterval(correct: Int, samples: Int) -> (Double, Double) {
        guard samples > 0 else { return (0, 1) }
        let n = Double(samples), p = Double(correct) / n, z = 1.96
        let centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / (1 + z * z / n)
        return (max(0, centre - half), min(1, centre + half))
    }
}
