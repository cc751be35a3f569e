import ArgumentParser
import Foundation
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// Builds the network a checkpoint describes and loads its weights.
func loadCheckpoint(_ path: String, batch: Int) throws -> (Network, [String: String]) {
    let url = URL(fileURLWithPath: path)
    let file = try Safetensors(contentsOf: url)
    guard let modelJSON = file.metadata["model"], let spec = try? JSONDecoder().decode(ModelSpec.self, from: Data(modelJSON.utf8)) else {
        throw ValidationError("\(path): not a seti-dist checkpoint (no model spec in its metadata)")
    }
    let network = Network(spec: spec, maxBatch: batch, seed: 0)
    try network.importWeights(file.tensors, source: path)
    return (network, file.metadata)
}

/// `seti-dist evaluate`: classification report and confusion matrix of a checkpoint.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class precision/recall/F1 and the confusion matrix of a checkpoint.",
        discussion: "Example:\n  seti-dist evaluate --checkpoint runs/seti/best.safetensors \\\n      --data data/sim --png confusion.png")

    @Option(help: "Checkpoint (.safetensors) written by train.") var checkpoint: String
    @Option(help: "Data folder (default: the data the checkpoint's run trained and validated on).") var data: String?
    @Option(help: "Which part: validation or train.") var split: String = "validation"
    @Option(help: "Confusion-matrix PNG to write.") var png: String?

    func run() throws {
        let (network, meta) = try loadCheckpoint(checkpoint, batch: 64)
        guard let split = DataFolder.Split(rawValue: split) else { throw ValidationError("--split must be train or validation") }
        let set: SpectrogramSet
        if let data {
            set = try DataFolder.load(split, from: URL(fileURLWithPath: data))
        } else {
            guard let json = meta["config"], let config = try? JSONDecoder().decode(TrainConfig.self, from: Data(json.utf8)) else {
                throw ValidationError("\(checkpoint): no training configuration in its metadata; pass --data")
            }
            let sets = try Trainer.loadData(config)
            set = split == .train ? sets.train : sets.validation
        }
        let evaluation = Trainer.evaluate(network, on: set, range: 0..<set.count)
        print(evaluation.report(classNames: set.classNames))
        print(String(format: "\nloss %.4f  accuracy %.4f  (%d samples)", evaluation.loss, evaluation.accuracy, evaluation.count))
        print("\nconfusion matrix (rows: true, columns: predicted)")
        for (c, row) in evaluation.confusion.enumerated() {
            print(set.classNames[c].padding(toLength: 16, withPad: " ", startingAt: 0) + row.map { String(format: "%6d", $0) }.joined())
        }
        if let png {
            try renderConfusionMatrix(evaluation.confusion, classNames: set.classNames,
                                      heading: "\(URL(fileURLWithPath: checkpoint).lastPathComponent): accuracy \(String(format: "%.4f", evaluation.accuracy))")
                .writePNG(to: URL(fileURLWithPath: png))
            print("wrote \(png)")
        }
    }
}

/// `seti-dist predict`: class and probabilities per row of an images file.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each spectrogram's predicted class and probabilities.",
        discussion: "--input is a data folder, or an images .csv/.npy file (rows of 8192 values).")

    @Option(help: "Checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "Images file (.csv or .npy) or data folder.") var input: String

    func run() throws {
        let (network, meta) = try loadCheckpoint(checkpoint, batch: 64)
        let names = (meta["class_names"] ?? "").split(separator: ",").map(String.init)
        let set = try DataFolder.loadImages(URL(fileURLWithPath: input), classes: names.count)
        print("row,class," + names.joined(separator: ","))
        _ = Trainer.evaluate(network, on: set, range: 0..<set.count) { i, probs in
            let best = probs.firstIndex(of: probs.max()!)!
            print("\(i),\(names[best])," + probs.map { String(format: "%.4f", $0) }.joined(separator: ","))
        }
    }
}

/// `seti-dist plot`: training curves from a metrics log.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Draw training and validation curves from OUT/metrics.jsonl.")

    @Option(help: "metrics.jsonl written by train.") var log: String
    @Option(help: "Output PNG.") var out: String = "curves.png"

    func run() throws {
        let records: [EpochRecord]
        do { records = try EpochRecord.read(URL(fileURLWithPath: log)) } catch {
            throw ValidationError("\(log): \(error.localizedDescription)")
        }
        guard !records.isEmpty else { throw ValidationError("\(log): no epochs logged") }
        try curves(records).writePNG(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }
}
