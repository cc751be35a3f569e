import ArgumentParser
import Foundation
import SetiData
import SetiFiles
import SetiObservations
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
            training file) and DIR/validation/... with --validation-per-class samples per class, \
            and beside them parameters.csv: each image's class, peak SNR, drift, change of \
            drift, track width, start frequency, spectra averaged and shift, which evaluate \
            uses for sensitivity curves. --shift draws the data under a distribution shift. \
            The same seed gives byte-identical files on any machine.

            Example:
              seti-dist simulate --out data/sim --per-class 800 --seed 1
              seti-dist show --data data/sim --png sim.png
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

    @Option(help: "The physics: image (seti-dist's image model) or ml4seti (the ML4SETI challenge's time-series simulator, read like its .dat files) (default: \(TrainConfig().generator.rawValue)).")
    var generator: Simulator.Generator?

    @Option(help: "An observation (.fil or .h5): inject signals into its quiet windows (implies --generator injection). Windows whose brightest pixel stands over \(Backgrounds.occupiedThreshold) robust standard deviations above their median already hold a signal and are left out.")
    var background: String?

    /// The generator the flags choose.
    private var physics: Simulator.Generator { generator ?? (background != nil ? .injection : TrainConfig().generator) }

    @Option(help: "With --generator ml4seti: the parameter ranges of the challenge's basic set (4 classes: brighter, gentler), its primary set (the Kaggle copy's), or half of each (default: both).")
    var ml4setiSet: ML4SETISimulator.DataClass = .both

    @Option(help: "Lowest signal-to-noise ratio of every class (image: peak per pixel in noise standard deviations, default 1; ml4seti: amplitude in units of the noise, default each class's published range).")
    var snrMin: Double?

    @Option(help: "Highest signal-to-noise ratio (image: default 12).")
    var snrMax: Double?

    @Option(help: "Draw the data under this distribution shift (see evaluate --shifted).")
    var shift: DistributionShift = .none

    @Flag(help: "With --generator ml4seti: also write each sample's time series as the challenge's .dat file, in OUT/dat/train/ and OUT/dat/validation/ (6.4 MB each, a .dat folder that --data reads).")
    var dat = false

    @Option(help: "Format to write; repeat for both (default: csv and npy).")
    var format: [DataFolder.Format] = [.csv, .npy]

    /// The SNR bounds the flags give, an end not given taking the generator's own; nil
    /// when neither flag is given.
    private var snrBounds: (low: Double, high: Double)? {
        guard snrMin != nil || snrMax != nil else { return nil }
        let defaults = physics == .ml4seti ? 0.05...0.75 : Simulator(seed: 0).snr
        return (snrMin ?? defaults.lowerBound, snrMax ?? defaults.upperBound)
    }

    func validate() throws {
        if let (low, high) = snrBounds {
            guard low.isFinite, high.isFinite, low > 0, high >= low, high <= 1000 else {
                throw ValidationError("--snr-min \(low) --snr-max \(high): need 0 < min <= max <= 1000")
            }
        }
        if physics != .image && shift != .none { throw ValidationError("--shift \(shift.rawValue) draws the image generator's shifted sets; with --generator \(physics.rawValue) leave it out") }
        if (physics == .injection) != (background != nil) {
            throw ValidationError(background == nil ? "--generator injection needs --background FILE.fil or .h5" : "--background injects into an observation: it goes with --generator injection, not \(physics.rawValue)")
        }
        if dat && physics != .ml4seti { throw ValidationError("--dat writes the ml4seti generator's time series; add --generator ml4seti") }
        if physics == .mixed && snrBounds != nil { throw ValidationError("--snr-min and --snr-max set one generator's range: use --generator image or ml4seti with them") }
        guard (1...20_000).contains(perClass) else { throw ValidationError("--per-class \(perClass): allowed 1...20000") }
        if let v = validationPerClass, !(1...20_000).contains(v) { throw ValidationError("--validation-per-class \(v): allowed 1...20000") }
        guard classes == 4 || classes == 7 else { throw ValidationError("--classes \(classes): allowed 4 or 7") }

    }

    func run() throws {
        var simulator = Simulator(seed: seed, classes: classes == 7 ? SignalClass.extended : SignalClass.classic)
        simulator.generator = physics
        let snrRange = snrBounds.map { $0.low...$0.high }
        switch physics {
        case .image, .injection: if let snrRange { simulator.snr = snrRange }
        case .ml4seti: simulator.ml4setiSNR = snrRange
        case .mixed: break  // refused by validate()
        }
        if let background {
            let backgrounds = try Backgrounds(observation: URL(fileURLWithPath: background))
            try Output.line("\(background): \(backgrounds.windows.count) quiet windows to inject into (\(backgrounds.rejected) left out: they hold a signal already)")
            simulator.backgrounds = backgrounds
        }
        simulator.ml4setiSet = ml4setiSet
        simulator.shift = shift
        let folder = URL(fileURLWithPath: out)
        let validation = validationPerClass ?? max(1, perClass / 4)
        for (split, n) in [(DataFolder.Split.train, perClass), (.validation, validation)] {
            let start = Date()
            let (set, parameters) = simulator.generateWithParameters(perClass: n, split: split)
            try DataFolder.write(set, as: split, to: folder, formats: Array(Set(format)).sorted { $0.rawValue < $1.rawValue })
            try DataFolder.writeParameters(parameters, as: split, to: folder)
            if dat {
                try DataFolder.writeML4SETIFiles(count: set.count, as: split, to: folder.appendingPathComponent("dat")) {
                    simulator.ml4setiFile(sample: $0, perClass: n, split: split)
                }
            }
            try Output.line("\(split.rawValue): \(set.count) spectrograms (\(n) per class) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s -> \(folder.appendingPathComponent(split.rawValue).path)")
        }
    }
}

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
                let best = Evaluator.argmax(raw)
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

/// `seti-dist convert`: between the CSV and .npy forms of the layout.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a data folder in any supported layout into the public layout, as CSV or NumPy .npy.",
        discussion: """
            Reads both parts (train and validation) of --data in any layout train reads (the \
            public CSV or .npy layout, ML4SETI .dat files, class folders of PNG pictures), \
            checks that they name the same classes, and only then writes them to --out as \
            train/ and validation/ subfolders. .npy images are float32 [N, 64, 128] and labels \
            int64 class indices [N]: numpy.load reads them, and they load in well under a second.

            Examples:
              seti-dist convert --data ~/seti/primary_small --out data/seti-npy --format npy
              seti-dist convert --data ~/ml4seti/basic4 --out data/basic4
            """)

    @Option(help: "Input data folder.")
    var data: String

    @Option(help: "Output data folder.")
    var out: String

    @Option(help: "Output format.")
    var format: DataFolder.Format = .npy

    /// Both parts are read and checked before anything is written: a refused input leaves
    /// no half-converted folder.
    func run() throws {
        let start = Date()
        let parts = try DataFolder.Split.allCases.map { ($0, try DataFolder.load($0, from: URL(fileURLWithPath: data))) }
        let (train, validation) = (parts[0].1, parts[1].1)
        guard train.classNames == validation.classNames else {
            throw DataError("\(data): train holds the classes \(train.classNames.joined(separator: ", ")) and validation \(validation.classNames.joined(separator: ", ")); convert needs one class list")
        }
        for (split, set) in parts {
            try DataFolder.write(set, as: split, to: URL(fileURLWithPath: out), formats: [format])
            try Output.line("\(split.rawValue): \(set.count) spectrograms")
        }
        try Output.line("converted in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        try Output.finish()
    }
}
