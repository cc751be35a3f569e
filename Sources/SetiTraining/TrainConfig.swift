import Foundation
import SetiData
import SetiObservations
import SetiNet

/// Everything that defines a training run. All ranks must hold the same configuration
/// (checked by hash at start-up); it is stored in every checkpoint and in OUT/config.json.
/// `TrainConfig()` is what `seti-dist train` does with no flags: the standard recipe.
public struct TrainConfig: Codable, Hashable, Sendable {
    /// Data folder in the public layout (an absolute path once the CLI has resolved it);
    /// nil trains on the built-in simulated data.
    public var data: String?
    /// Simulated data size when `data` is nil: training samples per class (validation is
    /// a quarter of it, simulated with a different stream so it is never trained on). 800:
    /// twice 0.18's 400 gained 3-12 points on every other generator's data (docs/GUIDE.md).
    public var simulatedPerClass = 800
    /// With simulated data, draw new training samples every epoch (the same classes and
    /// count, new signals and noise): a stream the network cannot memorise. Off, every
    /// epoch reuses the first draw, as training on a fixed data set does.
    public var freshSimulationEachEpoch = true
    /// The simulated data's physics (see ``Simulator/Generator``): mixed, the one whose
    /// model transferred best to the other generators (README, launch/transfer-matrix).
    public var generator = Simulator.Generator.mixed
    /// The simulated data's classes: 4 (squiggle, narrowband, noise, narrowbanddrd) or 7
    /// (adding brightpixel, squarepulsednarrowband, squigglesquarepulsednarrowband).
    public var simulatedClasses = 4
    /// With `generator` injection: the observation (.fil or .h5) whose quiet windows the
    /// signals are injected into (an absolute path once the CLI has resolved it).
    public var background: String?
    /// 96: on fresh samples every epoch the deep model is still learning at 48 and at 64
    /// (each half again longer, with the decay stretched alike, gained on every generator's
    /// data; docs/GUIDE.md).
    public var epochs = 96
    /// Samples per optimizer step, all ranks together. Each rank takes globalBatch / ranks.
    public var globalBatch = 32
    public var optimizer = OptimizerChoice.adam
    /// The course's Adam rate, decaying 0.96x every 75 steps, 1.33 times an epoch, so that it
    /// falls as far over the run as it did over 64 epochs at every 50 (the course: every 5,
    /// by step 1,200 it has fallen 18,000-fold and stops learning; see README).
    public var schedule = LearningRateSchedule(initial: 0.005, decay: .exponential(decaySteps: LearningRateSchedule.Decay.standardSteps,
                                                                                   rate: LearningRateSchedule.Decay.standardRate, staircase: true))
    /// Multiply the learning rate by globalBatch / 32 (Goyal et al.'s linear scaling rule;
    /// pair it with warm-up steps in the schedule).
    public var scaleLearningRate = false
    /// ReduceLROnPlateau on val_loss: multiply the rate by `factor` after `patience` epochs
    /// without improvement (0 = off). Applied on top of the schedule, decided by rank 0.
    public var plateauPatience = 0
    public var plateauFactor = 0.5
    /// Targets of the training loss: 1 - labelSmoothing + labelSmoothing / classes on the
    /// label, labelSmoothing / classes elsewhere (Keras's `label_smoothing`; 0 = one-hot).
    /// Validation loss stays the plain cross-entropy, comparable across recipes.
    public var labelSmoothing = 0.0
    /// Decoupled weight decay: every step shrinks each weight by lr x weightDecay before
    /// the optimizer's update (Keras's `weight_decay`; with Adam, AdamW). 0 = none.
    /// The standard recipe's 0.05 (AdamW) gave the best validation accuracy and shifted-set
    /// accuracy of the changes measured on a fixed data set (README).
    public var weightDecay = 0.05
    /// Horizontal flips (the course's), contrast scaling by up to 20% (README: it raised
    /// validation, faint-signal and shifted-set accuracy on a fixed data set), and half the
    /// samples re-encoded min-max, since the public data's encoding is not documented.
    public var augmentation = Augmentation(horizontalFlip: true, intensityScale: 0.2, minMaxEncoding: 0.5)
    public var dropout = true
    public var seed: UInt64 = 1
    /// Start each bucket's allreduce while backward computes earlier layers.
    public var overlap = true
    /// How gradients are summed over ranks (``ExchangeMethod``): hierarchical and mpi give
    /// the exact fp32 sum; the others move fewer bytes for a little precision.
    public var exchange = ExchangeMethod.hierarchical
    /// With `exchange` powersgd or acpsgd: the rank of each large matrix's factors. 2 gave
    /// the default run the exact exchange's validation accuracy, as 4 did, for half the
    /// work; 1 cost a point (docs/PERFORMANCE.md, 3 seeds).
    public var powerSGDRank = 2
    /// With `exchange` powersgd or acpsgd: optimizer steps summed exactly before compression
    /// starts (PyTorch's `start_powerSGD_iter`), so early training, where gradients change
    /// fastest, loses nothing. 100 (the default run's first 2 epochs) brought its
    /// validation accuracy back to the exact exchange's (docs/PERFORMANCE.md, 3 seeds).
    public var powerSGDStartStep = 100
    /// Batch-norm statistics per group of this many consecutive samples of a rank's batch
    /// (ghost batches); 0 = the whole per-rank batch, as Keras and Horovod do.
    public var batchNormGroupSize = 0
    /// Before each validation (and so each checkpoint), re-estimate the batch-norm moving
    /// statistics over this many training batches with the epoch's final weights (0 = off,
    /// keep Keras's momentum averages). See ``ForwardOptions/estimation(pass:batchNormGroups:)``.
    public var batchNormEstimationBatches = 25
    /// The quantity that picks the best checkpoint (Keras's ModelCheckpoint) and that early
    /// stopping watches.
    public var monitor = Monitor.valLoss
    /// Whether the monitored quantity should go down or up; auto: up for accuracies.
    public var mode = MonitorMode.auto
    /// EarlyStopping: end training after this many epochs without an improvement of the
    /// monitored quantity by more than `minDelta` (0 = off).
    public var earlyStoppingPatience = 0
    /// Smallest change of the monitored quantity that counts as an improvement.
    public var minDelta = 0.0
    /// seti-dist's own CNN (``ModelSpec/deep``); keras-seed trains the course's classic one.
    public var model = ModelSpec.deep

    public enum OptimizerChoice: String, Codable, Hashable, Sendable, CaseIterable {
        /// Adam (Keras defaults: beta 0.9 / 0.999, epsilon 1e-7).
        case adam
        /// SGD with momentum 0.9.
        case sgd
    }

    /// A quantity of the epoch log that a callback watches.
    public enum Monitor: String, Codable, Hashable, Sendable, CaseIterable {
        case valLoss = "val_loss", valAccuracy = "val_accuracy", loss, accuracy

        /// The value in an epoch's record.
        public func value(in record: EpochRecord) -> Double {
            switch self {
            case .valLoss: return record.val_loss
            case .valAccuracy: return record.val_accuracy
            case .loss: return record.loss
            case .accuracy: return record.accuracy
            }
        }
    }

    public enum MonitorMode: String, Codable, Hashable, Sendable, CaseIterable {
        case auto, min, max
    }

    public init() {}

    /// The default recipe (the struct's defaults): the course's optimizer, initial rate
    /// and batch, with changes measured in README and docs/: a slower rate decay,
    /// batch-norm statistics re-estimated before each validation, new simulated training
    /// samples every epoch, decoupled weight decay (AdamW), contrast scaling, and twice
    /// the course's epochs.
    public static var standard: TrainConfig { TrainConfig() }

    /// The course's recipe exactly: Adam, ExponentialDecay(0.005, 5, 0.96, staircase),
    /// horizontal flip, batch 32, 12 epochs, on a fixed training set, Keras's moving
    /// batch-norm averages, and ModelCheckpoint on the highest validation accuracy.
    public static var kerasSeed: TrainConfig {
        var config = TrainConfig()
        config.schedule = .kerasSeed
        config.epochs = 12
        config.simulatedPerClass = 400
        config.weightDecay = 0
        config.augmentation = Augmentation(horizontalFlip: true)
        config.batchNormEstimationBatches = 0
        config.freshSimulationEachEpoch = false
        config.monitor = .valAccuracy
        config.model = .setiCNN
        return config
    }

    /// The simulator of this run's data (generator and classes), drawing from `seed`;
    /// `backgrounds` are ``loadBackgrounds()``'s.
    public func simulator(seed: UInt64, backgrounds: Backgrounds?) -> Simulator {
        var simulator = Simulator(seed: seed, classes: simulatedClasses == 7 ? SignalClass.extended : SignalClass.classic)
        simulator.generator = generator
        simulator.backgrounds = backgrounds
        return simulator
    }

    /// The quiet windows of `background` that the injection generator draws on (nil for
    /// the other generators).
    public func loadBackgrounds() throws -> Backgrounds? {
        guard generator == .injection, let background else { return nil }
        return try Backgrounds(observation: URL(fileURLWithPath: background))
    }

    /// Whether a larger monitored value is better.
    public var monitorMaximizes: Bool {
        switch mode {
        case .min: return false
        case .max: return true
        case .auto: return monitor == .valAccuracy || monitor == .accuracy
        }
    }

    /// A stable 64-bit digest of the configuration (FNV-1a over its sorted JSON).
    public var hash: UInt64 {
        let bytes = (try? JSONLines.encode(self)) ?? Data()
        return bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }

    /// The hash a resumed run must match: everything but the epoch count, which a
    /// resumed run may extend, and PowerSGD's settings when it is off.
    public var resumeHash: UInt64 { resumeIdentity.hash }

    /// The fields in which `other` differs from this configuration as a resumed run must
    /// match it, as "name: other's value -> this one's" (nested fields as "a.b").
    public func resumeDifferences(from other: TrainConfig) -> [String] {
        func fields(_ c: TrainConfig) -> [String: String] {
            guard let data = try? JSONLines.encode(c.resumeIdentity, snakeCase: true),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return [:] }
            var flat: [String: String] = [:]
            func add(_ value: Any, _ name: String) {
                if let nested = value as? [String: Any], !nested.isEmpty {
                    for (key, inner) in nested { add(inner, name + "." + key) }
                } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    flat[name] = String(decoding: data, as: UTF8.self)
                }
            }
            for (key, value) in object { add(value, key) }
            return flat
        }
        let mine = fields(self), theirs = fields(other)
        var differences = Set(mine.keys).union(theirs.keys).sorted().compactMap { name in
            mine[name] == theirs[name] ? nil : "\(name): \(theirs[name] ?? "none") -> \(mine[name] ?? "none")"
        }
        // A model differs by name (--model's), not by its whole layer list.
        if model != other.model {
            func name(_ spec: ModelSpec) -> String { ModelName(spec: spec).map { "\"\($0.rawValue)\"" } ?? "a model of its own" }
            differences.removeAll { $0.hasPrefix("model.") }
            differences.append("model: \(name(other.model)) -> \(name(model))")
            differences.sort()
        }
        return differences
    }

    private var resumeIdentity: TrainConfig {
        var c = self
        c.epochs = 0
        if !c.exchange.kind.isLowRank {
            // They change nothing without PowerSGD (and 0.13 changed the rank's default).
            let defaults = TrainConfig()
            c.powerSGDRank = defaults.powerSGDRank
            c.powerSGDStartStep = defaults.powerSGDStartStep
        }
        return c
    }

    /// OUT/config.json's line: snake_case keys, as metrics.jsonl and `evaluate --json` write
    /// theirs (a `--config` file may use either spelling).
    public var json: String {
        String(decoding: (try? JSONLines.encode(self, snakeCase: true)) ?? Data(), as: UTF8.self)
    }

    /// The learning rate for optimizer step `step` of a run of `runSteps` steps, before any
    /// plateau reduction.
    public func learningRate(step: Int, runSteps: Int) -> Double {
        schedule(step, runSteps: runSteps) * (scaleLearningRate ? Double(globalBatch) / 32 : 1)
    }

    /// The model as trained on data with `classes` classes: the spec with one output per
    /// class, and without dropout layers when `dropout` is off.
    public func effectiveModel(classes: Int) -> ModelSpec {
        var spec = model
        if case .dense = spec.layers.last { spec.layers[spec.layers.count - 1] = .dense(units: classes) }
        if !dropout { spec.layers = spec.layers.filter { if case .dropout = $0 { return false }; return true } }
        return spec
    }
}

/// The named recipes of `--recipe`.
public enum Recipe: String, Codable, Hashable, Sendable, CaseIterable {
    case standard
    case kerasSeed = "keras-seed"

    public var config: TrainConfig {
        switch self {
        case .standard: return .standard
        case .kerasSeed: return .kerasSeed
        }
    }
}
