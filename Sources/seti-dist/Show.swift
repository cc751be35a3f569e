import ArgumentParser
import Foundation
import SetiData
import SetiFiles
import SetiObservations
import SetiPlot
import SetiTraining

/// `seti-dist show`: a PNG grid of spectrograms, a few per class.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a PNG grid of spectrograms, a few per class, titled with their class.",
        discussion: """
            --data takes any folder in the public layout (train/ and validation/ subfolders, \
            or flat images.csv / images_valid.csv), CSV or .npy. Spectrograms are drawn as \
            stored, as a notebook shows the public data: the signal dark on a light \
            background; --inverted draws strong power bright.

            Example:
              seti-dist show --data data/sim --tiles-per-class 4 --png grid.png
              seti-dist show --data data/sim --checkpoint runs/seti/best.safetensors --png predicted.png
            """)

    @Option(help: "Data folder.") var data: String
    @Option(help: "Picture to write.") var png: String = "spectrograms.png"
    @Option(help: "Which part of the data.") var split: DataFolder.Split = .validation
    @Option(help: "Spectrograms per class (1...50).") var tilesPerClass: Int = 3
    @Option(help: "Checkpoint whose predictions to show under each title (wrong ones in red).") var checkpoint: String?
    @Flag(help: "Draw strong power bright on a dark background.") var inverted = false

    func validate() throws {
        guard (1...50).contains(tilesPerClass) else { throw ValidationError("--tiles-per-class \(tilesPerClass): allowed 1...50") }
    }

    func run() throws {
        try OutputFile.check(URL(fileURLWithPath: png))
        let set = try DataFolder.load(split, from: URL(fileURLWithPath: data))
        var chosen: [Int] = []
        for c in set.classNames.indices {
            chosen += set.labels.indices.filter { set.labels[$0] == Int32(c) }.prefix(tilesPerClass)
        }
        let shown = set.subset(chosen)
        var predictions: [Int: (Int, Float)] = [:]
        if let checkpoint {
            let (network, meta) = try Checkpoint.loadNetwork(URL(fileURLWithPath: checkpoint), maxBatch: 64)
            try Evaluator.checkCompatible(network, with: shown, classNames: meta.classNames, source: data)
            _ = Evaluator.evaluate(network, on: shown) { i, raw in
                var probs = Array(raw)
                meta.calibration?.apply(&probs, classes: probs.count)
                let best = probs.withUnsafeBufferPointer { Evaluator.argmax($0) }
                predictions[i] = (best, probs[best])
            }
        }
        let tiles = (0..<shown.count).map { i in
            let truth = Int(shown.labels[i])
            return SpectrogramTile(
                pixels: shown.image(i), title: shown.classNames[truth],
                subtitle: predictions[i].map { "predicted: \(shown.classNames[$0.0]) \(Int(($0.1 * 100).rounded()))%" },
                highlight: predictions[i].map { $0.0 != truth } ?? false, group: truth)
        }
        // One class per row, wrapped after 5 tiles.
        let image = renderSpectrogramGrid(
            tiles, columns: min(tilesPerClass, 5), height: set.height, width: set.width, inverted: inverted,
            heading: "\(URL(fileURLWithPath: data).lastPathComponent) (\(split.rawValue)): \(tilesPerClass) of each class")
        try image.write(to: URL(fileURLWithPath: png))
        try Output.line("wrote \(png) (\(image.width)x\(image.height))")
        try Output.finish()
    }
}
