import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// `seti-dist train`: the default subcommand.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a SETI CNN, data-parallel over the MPI ranks (the default command).",
        discussion: """
            With no arguments: the built-in simulated data (3,200 training and 800 validation \
            spectrograms; --generator mixed: half from the ML4SETI challenge's own simulator, \
            half from seti-dist's image model over backgrounds of 4 to 512 averaged spectra, \
            half of those 16- or 32-step observations stretched to 64 rows as scan stretches them) \
            and the standard recipe: seti-dist's deep CNN (--model deep: four convolution \
            blocks, 26 times fewer weights than the course's), the course's Adam from learning rate \
            0.005, horizontal flips and global batch 32, but 96 epochs (not 12), the rate decays 0.96x \
            every 75 steps (not 5), batch-norm statistics are re-estimated over 25 training \
            batches before each validation, 3,200 new training samples are simulated every \
            epoch, Adam decays the weights (AdamW, --weight-decay 0.05), contrast is scaled \
            by up to 20% and half the samples are re-encoded min-max.
            --recipe keras-seed is the course's recipe exactly (its classic CNN, a fixed training set, Keras's \
            moving batch-norm averages); on the simulated data it overfits and its moving \
            statistics go stale, so it validates worse (see README).

            Batch: --global-batch is what one optimizer step sees, all ranks together; each of \
            N ranks takes global/N. --batch-per-rank B sets the global batch to N x B instead. \
            The schedule counts optimizer steps, so at a fixed global batch the learning-rate \
            curve is the same whatever the rank count; with --batch-per-rank, N ranks take N \
            times fewer steps per epoch: add --scale-lr (lr x global/32, Goyal et al.) and \
            --warmup-steps.

            Output (--out, which must not hold another run unless --resume or --overwrite): \
            metrics.jsonl (one JSON object per epoch), tensorboard/ (TensorBoard event files), \
            best.safetensors (best --monitor: Keras's restore_best_weights), last.safetensors \
            (with optimizer state, for --resume), curves.png, confusion.png and config.json. \
            --init-from starts a new run from any checkpoint's weights (fine-tuning); \
            --new-head re-initializes the last layer for another class count.

            Examples:
              mpirun -np 4 seti-dist train
              seti-dist train --data ~/seti/primary_small --epochs 30 --out runs/real
              launch/run.sh 2 train --config runs/real/config.json --resume
              seti-dist train --config long.yaml      # a YAML file with, e.g., "epochs: 30" or "lr: 0.001"
              seti-dist train --data data/seven --init-from runs/seti/best.safetensors --new-head --lr 0.001 --out runs/seven
            """)

    @Option(help: "Data folder in the public layout (default: the built-in simulated data).")
    var data: String?
    @Option(help: "Simulated training samples per class when --data is not given (1...20000; \(recipeDefault(\.simulatedPerClass))).")
    var simulatedPerClass: Int?
    @Flag(inversion: .prefixedNo, help: "Simulated data: draw new training samples every epoch (\(recipeDefault(\.freshSimulationEachEpoch))).")
    var freshSimulation: Bool?
    @Option(help: "Simulated data's physics: image (seti-dist's image model) or ml4seti (the ML4SETI challenge's time-series simulator) (\(recipeDefault(\.generator.rawValue))).")
    var generator: Simulator.Generator?
    @Option(help: "With --generator injection: the observation (.fil or .h5) whose quiet windows signals are injected into, fresh each epoch.")
    var background: String?
    @Option(help: "Simulated data's classes: 4 or 7 (\(recipeDefault(\.simulatedClasses))).")
    var classes: Int?
    @Option(help: "Named recipe; flags and --config change it field by field.")
    var recipe: Recipe = .standard
    @Option(help: "JSON or YAML file setting configuration fields (flag names such as lr or global-batch, or the nested names of OUT/config.json) over the recipe; flags override it.")
    var config: String?
    @Flag(help: "Print the configuration the flags, file and recipe give, and exit.")
    var printConfig = false
    @Option(help: "The network: deep (seti-dist's CNN, four convolution blocks) or classic (the course's Keras SETI CNN) (\(recipeDefault { ModelName(spec: $0.model)?.rawValue ?? "custom" })).")
    var model: ModelName?
    @Option(help: "Epochs (1...1000000; \(recipeDefault(\.epochs))).") var epochs: Int?
    @Option(help: "Samples per optimizer step, all ranks together (1...65536; \(recipeDefault(\.globalBatch))).") var globalBatch: Int?
    @Option(help: "Samples per rank per step (sets the global batch to ranks x this).") var batchPerRank: Int?
    @Option(help: "Optimizer (\(recipeDefault(\.optimizer.rawValue))).") var optimizer: TrainConfig.OptimizerChoice?
    @Option(help: "Initial learning rate (> 0; \(recipeDefault(\.schedule.initial))).") var lr: Double?
    @Option(help: "Learning-rate decay (\(recipeDefault(\.scheduleSummary))).") var schedule: LearningRateSchedule.Decay.Kind?
    @Option(help: "Steps per decay (exponential, step; kept from the recipe when only --schedule changes, else \(LearningRateSchedule.Decay.standardSteps); --classes 7 stretches it 7/4-fold, the same pace per epoch) or decay length (cosine; default: the whole run after the warm-up); >= 1.") var decaySteps: Int?
    @Option(help: "Decay factor (exponential, step; kept from the recipe, else \(LearningRateSchedule.Decay.standardRate)) or final fraction 0...1 (cosine; default: 0).") var decayRate: Double?
    @Flag(inversion: .prefixedNo, help: "Staircase exponential decay (default: on).") var staircase: Bool?
    @Option(help: "Linear warm-up steps (\(recipeDefault(\.schedule.warmupSteps))).") var warmupSteps: Int?
    @Flag(help: "Linear scaling rule: lr x global batch / 32.") var scaleLr = false
    @Option(help: "ReduceLROnPlateau patience in epochs (0 = off; \(recipeDefault(\.plateauPatience))).") var plateauPatience: Int?
    @Option(help: "ReduceLROnPlateau factor (between 0 and 1; \(recipeDefault(\.plateauFactor))).") var plateauFactor: Double?
    @Option(help: "Label smoothing of the training targets (0...0.5; \(recipeDefault(\.labelSmoothing))).") var labelSmoothing: Double?
    @Option(help: "Decoupled weight decay per step, x lr (0...1; with adam: AdamW; \(recipeDefault(\.weightDecay))).") var weightDecay: Double?
    @Flag(inversion: .prefixedNo, help: "Random horizontal (frequency) flips (\(recipeDefault(\.augmentation.horizontalFlip))).") var hflip: Bool?
    @Flag(inversion: .prefixedNo, help: "Random vertical (time) flips (\(recipeDefault(\.augmentation.verticalFlip))).") var vflip: Bool?
    @Option(help: "Random frequency shift, as a fraction of the width (0...0.5; \(recipeDefault(\.augmentation.frequencyShift))).") var shift: Double?
    @Option(help: "Fill for shifted channels.") var fill: Augmentation.Fill?
    @Option(help: "Additive Gaussian noise, standard deviation (0...1; \(recipeDefault(\.augmentation.noise))).") var noise: Float?
    @Option(help: "Random contrast scaling about the image's mean: largest relative change (0...0.5; \(recipeDefault(\.augmentation.intensityScale))).") var intensityScale: Float?
    @Option(help: "Share of training samples re-encoded min-max (lightest pixel 1, darkest 0) instead of median-anchored, so the model holds under either encoding (0...1; \(recipeDefault(\.augmentation.minMaxEncoding))).") var minMaxEncoding: Float?
    @Flag(inversion: .prefixedNo, help: "Dropout layers (off: the model without them; \(recipeDefault(\.dropout))).") var dropout: Bool?
    @Option(help: "Seed for weights, shuffles, augmentation and dropout (\(recipeDefault(\.seed))).") var seed: UInt64?
    @OptionGroup(title: "Gradient exchange") var exchange: ExchangeOptions
    @Option(help: "Batch-norm statistics per group of this many samples (0 = whole per-rank batch).") var batchNormGroupSize: Int?
    @Option(help: "Before each validation, re-estimate batch-norm statistics over this many training batches (0 = Keras's moving averages; \(recipeDefault(\.batchNormEstimationBatches))).")
    var batchNormEstimationBatches: Int?
    @Option(help: "Quantity that picks the best checkpoint and that early stopping watches (\(recipeDefault(\.monitor.rawValue))).") var monitor: TrainConfig.Monitor?
    @Option(help: "Whether the monitored quantity should fall or rise (auto: rise for accuracies).") var mode: TrainConfig.MonitorMode?
    @Option(help: "EarlyStopping: stop after this many epochs without improvement (0 = off; \(recipeDefault(\.earlyStoppingPatience))).") var earlyStoppingPatience: Int?
    @Option(help: "Smallest change of the monitored quantity that counts as an improvement.") var minDelta: Double?
    @Option(help: "Output folder (must not hold another run, unless --resume or --overwrite).") var out: String = "runs/seti"
    @Flag(help: "Continue the run in --out from its last.safetensors, exactly (same flags; --epochs may grow).") var resume = false
    @Flag(help: "Replace the run already in --out.") var overwrite = false
    @Option(help: "When to write last.safetensors, the checkpoint --resume continues from (weights, optimizer and exchange state, about 3x best.safetensors): every (epoch), end (after the last epoch only) or never (best.safetensors only).")
    var saveLast: LastCheckpoint = .every
    @Option(help: "Start a new run from this checkpoint's weights (fine-tuning).") var initFrom: String?
    @Flag(help: "With --init-from: initialize the last layer afresh (another class count).") var newHead = false
    @Flag(help: "Print only the final line (and errors).") var quiet = false
    @Flag(help: "Also print the model's summary at the start, and a progress line for every step in logs.") var verbose = false

    private var verbosity: Verbosity { quiet ? .quiet : verbose ? .verbose : .normal }

    func validate() throws {
        if resume && (overwrite || initFrom != nil) { throw ValidationError("--resume continues a run; it cannot be combined with --overwrite or --init-from") }
        if newHead && initFrom == nil { throw ValidationError("--new-head needs --init-from CHECKPOINT") }
        if quiet && verbose { throw ValidationError("give --quiet or --verbose, not both") }
        if let batchPerRank, !(1...65_536).contains(batchPerRank) { throw ValidationError("--batch-per-rank \(batchPerRank): allowed 1...65536") }
        if batchPerRank != nil && globalBatch != nil { throw ValidationError("give --global-batch or --batch-per-rank, not both") }
        _ = try makeConfig()
    }

    func run() throws {
        let base = try makeConfig()
        if printConfig {
            try Output.line(base.prettyJSON)
            return
        }
        let folder = RunFolder(URL(fileURLWithPath: out))
        let start: TrainingStart = resume ? .resume : initFrom.map { .weights(from: URL(fileURLWithPath: $0).standardizedFileURL, newHead: newHead) } ?? .fresh
        Job.run { job in
            var config = base
            if let b = batchPerRank {
                config.globalBatch = b * job.world.size
                try job.world.together { try config.validate() }
            }
            let notice = InterruptNotice(folder: folder, saveLast: saveLast, isRoot: job.world.isRoot)
            try Trainer.checkMemory(config, ranks: job.world.size)
            // A new run reads its inputs (data, --init-from) before the folder is made or
            // cleared, so a refused run leaves nothing and --overwrite cannot remove the
            // checkpoint it starts from; a resumed run locks the folder before reading it.
            let intent: RunFolder.Intent = resume ? .resume : .new(overwrite: overwrite)
            try job.world.onRoot { try resume ? folder.open(for: intent) : folder.check(intent) }
            let trainer = try Trainer(config: config, world: job.world, folder: folder, start: start)
            if !resume { try job.world.onRoot { try folder.open(for: intent) } }
            let progress = TrainingProgress(binding: job.binding, exchange: config.exchangeDescription(ranks: job.world.size), verbosity: verbosity)
            trainer.onEvent = { event in
                progress.handle(event)
                notice.handle(event)
            }
            trainer.saveLast = saveLast
            let began = Date()
            try trainer.run()
            try job.world.onRoot {
                let records = try EpochRecord.read(folder.metrics)
                try curves(records, name: folder.url.lastPathComponent, monitor: config.monitor).write(to: folder.curves)
                try Checkpoint.restore(folder.best, into: trainer.network)
                let calibration = try Checkpoint.calibrate(folder.best, network: trainer.network, on: trainer.validation, fitSet: trainer.calibrationSet())
                if verbosity != .quiet {
                    try Output.line(String(format: "calibrated %@ (%@ scaling%@): expected calibration error %.4f -> %.4f on validation%@",
                                           folder.best.lastPathComponent, calibration.matrix == nil ? "temperature" : "matrix",
                                           calibration.fitSamples.map { " fitted on \($0) fresh samples" } ?? "",
                                           calibration.errorBefore, calibration.errorAfter,
                                           calibration.noiseThreshold.map { String(format: "; scan's threshold for 1%% false alarms on its noise: p_signal %.4g", $0) } ?? ""))
                }
                let evaluation = Evaluator.evaluate(trainer.network, on: trainer.validation)
                try renderConfusionMatrix(evaluation.confusion, classNames: trainer.validation.classNames,
                                          heading: "\(folder.url.lastPathComponent): best checkpoint on validation, accuracy \(String(format: "%.4f", evaluation.accuracy))")
                    .write(to: folder.confusion)
                try Output.line(String(format: "done in %.1f s; best checkpoint: val_accuracy %.4f, val_loss %.4f -> %@",
                                       Date().timeIntervalSince(began), evaluation.accuracy, evaluation.loss, folder.best.path))
                try Output.finish()
            }
        }
    }

    /// Recipe, then --config file, then flags; validated, with the data folder and the
    /// background observation absolute.
    func makeConfig() throws -> TrainConfig {
        var c = recipe.config
        if let path = config {
            do { c = try c.merging(file: URL(fileURLWithPath: path)) } catch let error as ConfigFileError {
                throw ValidationError(error.description)
            }
        }
        do {
            c = try flags.applied(to: c)
            try exchange.apply(to: &c)
            for path in [\TrainConfig.data, \TrainConfig.background] {
                if let file = c[keyPath: path] { c[keyPath: path] = URL(fileURLWithPath: file).standardizedFileURL.path }
            }
            try c.validate()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(error)")
        }
        return c
    }

    /// The configuration flags given (the exchange's are ``exchange``'s).
    private var flags: TrainConfigPatch {
        var p = TrainConfigPatch()
        p.data = data
        p.simulatedPerClass = simulatedPerClass
        p.freshSimulation = freshSimulation
        p.generator = generator
        p.background = background
        p.classes = classes
        p.model = model?.spec
        p.epochs = epochs
        p.globalBatch = globalBatch
        p.optimizer = optimizer
        p.lr = lr
        p.schedule = schedule
        p.decaySteps = decaySteps
        p.decayRate = decayRate
        p.staircase = staircase
        p.warmupSteps = warmupSteps
        p.scaleLr = scaleLr ? true : nil
        p.plateauPatience = plateauPatience
        p.plateauFactor = plateauFactor
        p.labelSmoothing = labelSmoothing
        p.weightDecay = weightDecay
        p.hflip = hflip
        p.vflip = vflip
        p.shift = shift
        p.fill = fill
        p.noise = noise
        p.intensityScale = intensityScale
        p.minMaxEncoding = minMaxEncoding
        p.dropout = dropout
        p.seed = seed
        p.batchNormGroupSize = batchNormGroupSize
        p.batchNormEstimationBatches = batchNormEstimationBatches
        p.monitor = monitor
        p.mode = mode
        p.earlyStoppingPatience = earlyStoppingPatience
        p.minDelta = minDelta
        return p
    }
}

/// "default: X", or each recipe's value when they differ, for --help.
func recipeDefault<T: Equatable>(_ field: (TrainConfig) -> T) -> String {
    let values = Recipe.allCases.map { ($0.rawValue, field($0.config)) }
    guard values.contains(where: { $0.1 != values[0].1 }) else { return "default: \(values[0].1)" }
    return "default: " + values.map { "\($0.1) (\($0.0))" }.joined(separator: ", ")
}

extension TrainConfig {
    /// The schedule's decay in flag terms, for --help.
    fileprivate var scheduleSummary: String {
        switch schedule.decay {
        case .constant: return "constant"
        case .exponential(let steps, let rate, _): return "exponential, \(rate) every \(steps) steps"
        case .step(let every, let factor): return "step, \(factor) every \(every) steps"
        case .cosine(let steps, let alpha): return "cosine over \(steps.map { "\($0) steps" } ?? "the whole run") to \(alpha)"
        }
    }
}

/// Loss, accuracy and learning rate per epoch of the run called `name`, the best epoch
/// (by `monitor`) marked on each panel.
func curves(_ records: [EpochRecord], name: String, monitor: TrainConfig.Monitor = .valLoss) -> Figure {
    let e = records.map { Double($0.epoch) }
    let monitored = records.map { r -> Double in
        switch monitor {
        case .valLoss: return r.val_loss
        case .valAccuracy: return -r.val_accuracy
        case .loss: return r.loss
        case .accuracy: return -r.accuracy
        }
    }
    let best = monitored.indices.filter { monitored[$0].isFinite }.min { monitored[$0] < monitored[$1] }.map { records[$0].epoch }
    let marker = best.map { (x: Double($0), label: "best (\(monitor.rawValue)): epoch \($0)") }
    func pair(_ train: KeyPath<EpochRecord, Double>, _ validation: KeyPath<EpochRecord, Double>) -> [Series] {
        [Series(name: "training", points: Array(zip(e, records.map { $0[keyPath: train] })), color: .blue),
         Series(name: "validation", points: Array(zip(e, records.map { $0[keyPath: validation] })), color: .orange)]
    }
    return renderLineCharts([
        ChartPanel(title: "loss", xLabel: "epoch", yLabel: "cross-entropy", series: pair(\.loss, \.val_loss), marker: marker),
        ChartPanel(title: "accuracy", xLabel: "epoch", yLabel: "accuracy", series: pair(\.accuracy, \.val_accuracy), marker: marker),
        ChartPanel(title: "learning rate", xLabel: "epoch", yLabel: "learning rate (last step of the epoch)",
                   series: [Series(name: "learning rate", points: Array(zip(e, records.map(\.lr))), color: .purple)], marker: marker),
    ], heading: "\(name): training curves")
}
