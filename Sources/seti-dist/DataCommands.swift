import ArgumentParser
import Foundation
import SetiData
import SetiPlot
import SetiTraining

/// `seti-dist simulate`: writes the built-in simulated data set in the public layout.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a simulated SETI data set (the built-in default data) in the public CSV/.npy layout.",
        discussion: """
            Spectrograms of 64 time steps x 128 frequency channels: radiometer noise through a \
            rippled bandpass, plus a signal whose peak SNR is drawn from --snr-min to --snr-max. \
            Writes DIR/train/{images,labels}.{csv,npy} (grouped by class, as the public \
            training file) and DIR/validation/... with --validation-per-class samples per class. \
            The same seed gives byte-identical files on any machine.

            Example:
              seti-dist simulate --out data/sim --per-class 800 --seed 1
              seti-dist show --data data/sim --out sim.png
            """)

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Training samples per class.")
    var perClass: Int = 800

    @Option(help: "Validation samples per class (default: a quarter of --per-class, as in the public data).")
    var validationPerClass: Int?

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "4 (squiggle, narrowband, noise, narrowbanddrd) or 7 (adds brightpixel, squarepulsednarrowband, squigglesquarepulsednarrowband).")
    var classes: Int = 4

    @Option(help: "Lowest peak signal-to-noise ratio (in noise standard deviations).")
    var snrMin: Double = 1

    @Option(help: "Highest peak signal-to-noise ratio.")
    var snrMax: Double = 12

    @Option(help: "Formats to write: csv, npy or csv,npy.")
    var format: String = "csv,npy"

    func validate() throws {
        guard perClass > 0, (validationPerClass ?? 1) > 0 else { throw ValidationError("sample counts must be positive") }
        guard classes == 4 || classes == 7 else { throw ValidationError("--classes must be 4 or 7") }
        guard snrMin > 0, snrMax >= snrMin else { throw ValidationError("need 0 < --snr-min <= --snr-max") }
        _ = try formats()
    }

    func formats() throws -> [DataFolder.Format] {
        try format.split(separator: ",").map {
            guard let f = DataFolder.Format(rawValue: String($0)) else { throw ValidationError("unknown format '\($0)': use csv, npy or csv,npy") }
            return f
        }
    }

    func run() throws {
        var simulator = Simulator(seed: seed, classes: classes == 7 ? SignalClass.extended : SignalClass.classic)
        simulator.snr = snrMin...snrMax
        let folder = URL(fileURLWithPath: out)
        let validation = validationPerClass ?? max(1, perClass / 4)
        for (split, n) in [(DataFolder.Split.train, perClass), (.validation, validation)] {
            let start = Date()
            let set = simulator.generate(perClass: n, split: split)
            try DataFolder.write(set, as: split, to: folder, formats: try formats())
            print("\(split.rawValue): \(set.count) spectrograms (\(n) per class) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s -> \(folder.appendingPathComponent(split.rawValue).path)")
        }
    }
}

/// `seti-dist show`: a PNG grid of spectrograms, a few per class.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a PNG grid of spectrograms, a few per class, titled with their class.",
        discussion: """
            --data takes any folder in the public layout (train/ and validation/ subfolders, \
            or flat images.csv / images_valid.csv), CSV or .npy.

            Example:
              seti-dist show --data data/sim --split validation --per-class 4 --out grid.png
            """)

    @Option(help: "Data folder.")
    var data: String

    @Option(help: "Output PNG file.")
    var out: String = "spectrograms.png"

    @Option(help: "Which part: train or validation.")
    var split: String = "train"

    @Option(help: "Spectrograms per class.")
    var perClass: Int = 3

    @Option(help: "Checkpoint whose predictions to show under each title (wrong ones in red).")
    var checkpoint: String?

    func run() throws {
        guard let split = DataFolder.Split(rawValue: split) else { throw ValidationError("--split must be train or validation") }
        let set = try DataFolder.load(split, from: URL(fileURLWithPath: data))
        var tiles: [SpectrogramTile] = []
        var chosen: [Int] = []
        for c in set.classNames.indices {
            chosen += set.labels.indices.filter { set.labels[$0] == Int32(c) }.prefix(perClass)
        }
        let shown = set.subset(chosen)
        var predictions: [Int: (Int, Float)] = [:]
        if let checkpoint {
            let (network, _) = try loadCheckpoint(checkpoint, batch: 64)
            _ = Trainer.evaluate(network, on: shown, range: 0..<shown.count) { i, probs in
                let best = probs.firstIndex(of: probs.max()!)!
                predictions[i] = (best, probs[best])
            }
        }
        for i in 0..<shown.count {
            let truth = Int(shown.labels[i])
            let subtitle = predictions[i].map { "pred: \(shown.classNames[$0.0]) \(Int(($0.1 * 100).rounded()))%" }
            tiles.append(SpectrogramTile(pixels: shown.image(i), title: shown.classNames[truth], subtitle: subtitle,
                                         highlight: predictions[i].map { $0.0 != truth } ?? false))
        }
        let image = renderSpectrogramGrid(
            tiles, columns: perClass, height: set.height, width: set.width,
            heading: "\(data) (\(split.rawValue)): \(set.count) spectrograms, \(perClass) per class")
        try image.writePNG(to: URL(fileURLWithPath: out))
        print("wrote \(out) (\(image.width)x\(image.height))")
    }
}

/// `seti-dist convert`: between the CSV and .npy forms of the layout.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a data folder between CSV and NumPy .npy (which loads in well under a second).",
        discussion: """
            Reads both parts of --from in any supported layout and writes them to --to as \
            train/ and validation/ subfolders. .npy images are float32 [N, 64, 128] and labels \
            int64 class indices [N]: numpy.load reads them.

            Example:
              seti-dist convert --from ~/seti/primary_small --to data/seti-npy --format npy
            """)

    @Option(help: "Input data folder.")
    var from: String

    @Option(help: "Output data folder.")
    var to: String

    @Option(help: "Output format: npy or csv.")
    var format: String = "npy"

    func run() throws {
        guard let format = DataFolder.Format(rawValue: format) else { throw ValidationError("--format must be npy or csv") }
        for split in DataFolder.Split.allCases {
            let start = Date()
            let set = try DataFolder.load(split, from: URL(fileURLWithPath: from))
            try DataFolder.write(set, as: split, to: URL(fileURLWithPath: to), formats: [format])
            print("\(split.rawValue): \(set.count) spectrograms converted in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        }
    }
}
