import ArgumentParser
import Foundation
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// The data a checkpoint meets: `--data` when given, else the data its run trained on.
func dataFor(_ checkpoint: CheckpointMetadata, data: String?, split: DataFolder.Split, checkpointPath: String) throws -> SpectrogramSet {
    if let data { return try DataFolder.load(split, from: URL(fileURLWithPath: data)) }
    let sets = try checkpoint.config.loadData()
    return split == .train ? sets.train : sets.validation
}

/// `seti-dist evaluate`: classification report and confusion matrix of a checkpoint.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class precision/recall/F1 and the confusion matrix of a checkpoint.",
        discussion: """
            Without --data, the checkpoint's own run's data (its folder, or the same simulated \
            set, regenerated from its seed).

            Examples:
              seti-dist evaluate --checkpoint runs/seti/best.safetensors
              seti-dist evaluate --checkpoint runs/seti/best.safetensors --data data/sim --png cm.png
              seti-dist evaluate --checkpoint runs/seti/best.safetensors --json > report.json
            """)

    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "Data folder (default: the data the checkpoint's run used).") var data: String?
    @Option(help: "Which part of the data.") var split: DataFolder.Split = .validation
    @Option(help: "Confusion-matrix picture to write.") var png: String?
    @Flag(help: "Print one JSON object (accuracy, loss, per-class scores, confusion matrix) instead of the report.") var json = false

    func run() throws {
        let (network, meta) = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 64)
        let set = try dataFor(meta, data: data, split: split, checkpointPath: checkpoint)
        try Evaluator.checkCompatible(network, with: set, classNames: meta.classNames, source: data ?? checkpoint)
        guard set.count > 0 else { throw ValidationError("\(data ?? checkpoint): the \(split.rawValue) data hold no samples") }
        let evaluation = Evaluator.evaluate(network, on: set)
        if json {
            try Output.line(String(decoding: try JSONLines.encode(evaluation.summary(classNames: set.classNames)), as: UTF8.self))
        } else {
            try Output.line(evaluation.report(classNames: set.classNames))
            try Output.line(String(format: "\nloss %.4f  accuracy %.4f  (%d samples)", evaluation.loss, evaluation.accuracy, evaluation.count))
            try Output.line("\nconfusion matrix (rows: true, columns: predicted)")
            let width = max(16, (set.classNames.map(\.count).max() ?? 0) + 2)
            for (c, row) in evaluation.confusion.enumerated() {
                try Output.line(set.classNames[c].padding(toLength: width, withPad: " ", startingAt: 0) + row.map { String(format: "%7d", $0) }.joined())
            }
        }
        if let png {
            try renderConfusionMatrix(evaluation.confusion, classNames: set.classNames,
                                      heading: "\(URL(fileURLWithPath: checkpoint).lastPathComponent): accuracy \(String(format: "%.4f", evaluation.accuracy))")
                .writePNG(to: URL(fileURLWithPath: png))
            if !json { try Output.line("wrote \(png)") }
        }
        try Output.finish()
    }
}

/// `seti-dist predict`: class and probabilities per row of an images file.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each spectrogram's predicted class and probabilities (CSV, or JSON lines).",
        discussion: """
            --data is an images .csv/.npy file (rows of 64 x 128 values) or a data folder \
            (its validation part).

            Example:
              seti-dist predict --checkpoint runs/seti/best.safetensors --data data/sim/validation/images.npy
            """)

    @Option(help: "Checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "Images file (.csv or .npy) or data folder.") var data: String
    @Flag(help: "One JSON object per row instead of CSV.") var json = false

    func run() throws {
        let (network, meta) = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 64)
        let names = meta.classNames
        let set = try DataFolder.loadImages(URL(fileURLWithPath: data), classes: names.count)
        try Evaluator.checkCompatible(network, with: set, labelled: false, source: data)
        if !json { try Output.line("row,class," + names.joined(separator: ",")) }
        var failure: Error?
        _ = Evaluator.evaluate(network, on: set) { i, probs in
            guard failure == nil else { return }
            let best = Evaluator.argmax(probs)
            do {
                if json {
                    let fields = zip(names, probs).map { "\"\($0)\":\(String(format: "%.6f", $1))" }.joined(separator: ",")
                    try Output.line("{\"row\":\(i),\"class\":\"\(names[best])\",\"probabilities\":{\(fields)}}")
                } else {
                    try Output.line("\(i),\(names[best])," + probs.map { String(format: "%.4f", $0) }.joined(separator: ","))
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        try Output.finish()
    }
}

/// `seti-dist plot`: training curves from a metrics log.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw training and validation curves from OUT/metrics.jsonl.",
        discussion: "Example:\n  seti-dist plot --log runs/seti/metrics.jsonl --png curves.png")

    @Option(help: "metrics.jsonl written by train.") var log: String
    @Option(help: "Picture to write.") var png: String = "curves.png"

    func run() throws {
        let records: [EpochRecord]
        do { records = try EpochRecord.read(URL(fileURLWithPath: log)) } catch {
            throw ValidationError("\(log): \(error.localizedDescription)")
        }
        guard !records.isEmpty else { throw ValidationError("\(log): no epochs logged") }
        try curves(records).writePNG(to: URL(fileURLWithPath: png))
        try Output.line("wrote \(png)")
        try Output.finish()
    }
}
