import ArgumentParser
import Foundation
import SetiData
import SetiNet
import SetiPlot
import SetiTraining

/// `seti-dist train`: the default subcommand.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the SETI CNN, data-parallel over the MPI ranks (the default command).",
        discussion: """
            With no arguments: the built-in simulated data (1,600 training and 400 validation \
            spectrograms) and the standard recipe: the course's Adam from learning rate \
            0.005, horizontal flips, global batch 32 and 12 epochs, but the rate decays 0.96x \
            every 25 steps (not 5), batch-norm statistics are re-estimated over 25 training \
            batches before each validation, and 1,600 new training samples are simulated \
            every epoch.
            --recipe keras-seed is the course's recipe exactly (a fixed training set, Keras's \
            moving batch-norm averages); on the simulated data it overfits and its moving \
            statistics go stale, so it validates worse (see README).

            Batch: --global-batch is what one optimizer step sees, all ranks together; each of \
            N ranks takes global/N. --batch-per-rank B sets the global batch to N x B instead. \
            The schedule counts optimizer steps, so at a fixed global batch the learning-rate \
            curve is the same whatever the rank count; with --batch-per-rank, N ranks take N \
            times fewer steps per epoch: add --scale-lr (lr x global/32, Goyal et al.) and \
            --warmup-steps.

            Output (--out): metrics.jsonl (one JSON object per epoch), best.safetensors \
            (best --monitor), last.safetensors (with optimizer state, for --resume), \
            curves.png and confusion.png.

            Examples:
              mpirun -np 4 seti-dist train
              seti-dist train --data ~/seti/primary_small --epochs 30 --out runs/real
              launch/run.sh 2 train --config runs/real/config.json --resume
              seti-dist train --config long.yaml      # a YAML file with, e.g., "epochs: 30"
            """)

    @Option(help: "Data folder in the public layout (default: the built-in simulated data).")
    var data: String?
    @Option(help: "Simulated training samples per class when --data is not given.")
    var simulatedPerClass: Int?
    @Flag(inversion: .prefixedNo, help: "Simulated data: draw new training samples every epoch.")
    var freshSimulation: Bool?
    @Option(help: "Named recipe: standard (the default) or keras-seed (the course's, exactly).")
    var recipe: String = "standard"
    @Option(help: "JSON or YAML file setting any configuration fields (names as in OUT/config.json) over the recipe; flags override it.")
    var config: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Samples per optimizer step, all ranks together.") var globalBatch: Int?
    @Option(help: "Samples per rank per step (sets the global batch to ranks x this).") var batchPerRank: Int?
    @Option(help: "Optimizer: adam or sgd (momentum 0.9).") var optimizer: String?
    @Option(help: "Initial learning rate.") var lr: Double?
    @Option(help: "Schedule: exponential, step, cosine or constant.") var schedule: String?
    @Option(help: "Steps per decay (exponential, step) or decay length (cosine).") var decaySteps: Int?
    @Option(help: "Decay factor (exponential, step) or final fraction (cosine).") var decayRate: Double?
    @Flag(inversion: .prefixedNo, help: "Staircase exponential decay.") var staircase: Bool?
    @Option(help: "Linear warm-up steps.") var warmupSteps: Int?
    @Flag(help: "Linear scaling rule: lr x global batch / 32.") var scaleLr = false
    @Option(help: "ReduceLROnPlateau patience in epochs (0 = off).") var plateauPatience: Int?
    @Option(help: "ReduceLROnPlateau factor.") var plateauFactor: Double?
    @Flag(inversion: .prefixedNo, help: "Random horizontal (frequency) flips.") var hflip: Bool?
    @Flag(inversion: .prefixedNo, help: "Random vertical (time) flips.") var vflip: Bool?
    @Option(help: "Random frequency shift, as a fraction of the width.") var shift: Double?
    @Option(help: "Fill for shifted channels: wrap, nearest or constant.") var fill: String?
    @Option(help: "Additive Gaussian noise (standard deviation).") var noise: Float?
    @Flag(inversion: .prefixedNo, help: "Dropout layers (off: the model without them).") var dropout: Bool?
    @Option(help: "Seed for weights, shuffles, augmentation and dropout.") var seed: UInt64?
    @Flag(inversion: .prefixedNo, help: "Overlap the gradient allreduce with backward.") var overlap: Bool?
    @Option(help: "Gradient allreduce: hierarchical (shared memory within a machine, MPI among machines) or mpi (plain MPI_Allreduce).")
    var allreduce: String?
    @Option(help: "Batch-norm statistics per group of this many samples (0 = whole per-rank batch).") var batchNormGroupSize: Int?
    @Option(help: "Before each validation, re-estimate batch-norm statistics over this many training batches (0 = Keras's moving averages).")
    var batchNormEstimationBatches: Int?
    @Option(help: "Checkpoint monitor: val_loss, val_accuracy, loss, accuracy.") var monitor: String?
    @Option(help: "Monitor mode: min, max or auto.") var mode: String?
    @Option(help: "Output folder.") var out: String = "runs/seti"
    @Flag(help: "Continue from OUT/last.safetensors.") var resume = false

    func run() throws {
        let config = try makeConfig()
        Job.run { job in
            var config = config
            if let b = batchPerRank { config.globalBatch = b * job.world.size }
            let trainer = try Trainer(config: config, world: job.world, outputFolder: URL(fileURLWithPath: out), resume: resume)
            let start = Date()
            try trainer.run()
            guard job.world.isRoot else { return }
            let records = try EpochRecord.read(trainer.logURL)
            try curves(records).writePNG(to: trainer.outputFolder.appendingPathComponent("curves.png"))
            try Checkpoint.load(trainer.bestURL, into: trainer.network)
            let evaluation = Trainer.evaluate(trainer.network, on: trainer.validation, range: 0..<trainer.validation.count)
            try renderConfusionMatrix(evaluation.confusion, classNames: trainer.validation.classNames,
                                      heading: "best checkpoint on validation: accuracy \(String(format: "%.4f", evaluation.accuracy))")
                .writePNG(to: trainer.outputFolder.appendingPathComponent("confusion.png"))
            print(String(format: "done in %.1f s; best checkpoint: val_accuracy %.4f, val_loss %.4f -> %@",
                         Date().timeIntervalSince(start), evaluation.accuracy, evaluation.loss, trainer.bestURL.path))
        }
    }

    /// Recipe, then --config file, then flags.
    func makeConfig() throws -> TrainConfig {
        guard var c = TrainConfig.recipes[recipe] else {
            throw ValidationError("unknown --recipe '\(recipe)': use \(TrainConfig.recipes.keys.sorted().joined(separator: " or "))")
        }
        if let path = config {
            do { c = try c.merging(file: URL(fileURLWithPath: path)) } catch let error as ConfigFileError {
                throw ValidationError(error.description)
            }
        }
        if let data { c.data = data }
        if let simulatedPerClass { c.simulatedPerClass = simulatedPerClass }
        if let freshSimulation { c.freshSimulationEachEpoch = freshSimulation }
        if let epochs { c.epochs = epochs }
        if let globalBatch { c.globalBatch = globalBatch }
        if let optimizer {
            guard let o = TrainConfig.OptimizerChoice(rawValue: optimizer) else { throw ValidationError("--optimizer must be adam or sgd") }
            c.optimizer = o
        }
        if let lr { c.schedule.initial = lr }
        if let schedule {
            let steps = decaySteps ?? 5, rate = decayRate ?? 0.96
            switch schedule {
            case "exponential": c.schedule.decay = .exponential(decaySteps: steps, rate: rate, staircase: staircase ?? true)
            case "step": c.schedule.decay = .step(every: steps, factor: rate)
            case "cosine": c.schedule.decay = .cosine(decaySteps: steps, alpha: decayRate ?? 0)
            case "constant": c.schedule.decay = .constant
            default: throw ValidationError("--schedule must be exponential, step, cosine or constant")
            }
        } else if case .exponential(let s, let r, let st) = c.schedule.decay {
            c.schedule.decay = .exponential(decaySteps: decaySteps ?? s, rate: decayRate ?? r, staircase: staircase ?? st)
        }
        if let warmupSteps { c.schedule.warmupSteps = warmupSteps }
        if scaleLr { c.scaleLearningRate = true }
        if let plateauPatience { c.plateauPatience = plateauPatience }
        if let plateauFactor { c.plateauFactor = plateauFactor }
        if let hflip { c.augmentation.horizontalFlip = hflip }
        if let vflip { c.augmentation.verticalFlip = vflip }
        if let shift { c.augmentation.frequencyShift = shift }
        if let fill {
            guard let f = Augmentation.Fill(rawValue: fill) else { throw ValidationError("--fill must be wrap, nearest or constant") }
            c.augmentation.fill = f
        }
        if let noise { c.augmentation.noise = noise }
        if let dropout { c.dropout = dropout }
        if let seed { c.seed = seed }
        if let overlap { c.overlap = overlap }
        if let allreduce {
            guard let method = AllreduceMethod(rawValue: allreduce) else { throw ValidationError("--allreduce must be hierarchical or mpi") }
            c.allreduce = method
        }
        if let batchNormGroupSize { c.batchNormGroupSize = batchNormGroupSize }
        if let batchNormEstimationBatches { c.batchNormEstimationBatches = batchNormEstimationBatches }
        if let monitor {
            guard ["val_loss", "val_accuracy", "loss", "accuracy"].contains(monitor) else { throw ValidationError("--monitor must be val_loss, val_accuracy, loss or accuracy") }
            c.monitor = monitor
        }
        if let mode {
            guard ["min", "max", "auto"].contains(mode) else { throw ValidationError("--mode must be min, max or auto") }
            c.mode = mode
        }
        guard c.epochs > 0, c.globalBatch > 0, (batchPerRank ?? 1) > 0, c.simulatedPerClass > 0 else {
            throw ValidationError("epochs, batch sizes and sample counts must be positive")
        }
        return c
    }
}

func curves(_ records: [EpochRecord]) -> RGBImage {
    let e = records.map { Double($0.epoch) }
    return renderLineCharts([
        ("loss", "epoch", [Series(name: "train", points: Array(zip(e, records.map(\.loss))), color: .blue),
                           Series(name: "validation", points: Array(zip(e, records.map(\.val_loss))), color: .orange)]),
        ("accuracy", "epoch", [Series(name: "train", points: Array(zip(e, records.map(\.accuracy))), color: .blue),
                               Series(name: "validation", points: Array(zip(e, records.map(\.val_accuracy))), color: .orange)]),
    ], heading: "seti-dist training curves")
}
