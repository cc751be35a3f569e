import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

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
        let quoted = names.map(jsonString)
        var failure: Error?
        _ = Evaluator.evaluate(network, on: set) { i, raw in
            guard failure == nil else { return }
            var probs = Array(raw)
            meta.calibration?.apply(&probs, classes: names.count)
            // The class is the most probable after calibration, as evaluate counts it.
            let best = probs.withUnsafeBufferPointer { Evaluator.argmax($0) }
            do {
                if json {
                    let fields = zip(quoted, probs).map { "\($0):\(String(format: "%.6f", $1))" }.joined(separator: ",")
                    try Output.line("{\"row\":\(i),\"class\":\(quoted[best]),\"probabilities\":{\(fields)}}")
                } else {
                    try Output.line("\(i),\(names[best])," + probs.map { String(format: "%.4f", $0) }.joined(separator: ","))
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        try Output.finish()
    }

    /// `text` as a JSON string literal, quoted and escaped.
    private func jsonString(_ text: String) -> String {
        (try? JSONEncoder().encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}
