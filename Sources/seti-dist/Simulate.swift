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

    @Flag(help: "Replace the data set already in --out.")
    var overwrite = false

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
        try writeDataFolder(out, overwrite: overwrite) {
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
}
