/// The Keras callbacks a run uses, as small state machines fed one epoch record at a time.
/// Rank 0 decides and broadcasts what other ranks need (the learning-rate factor, whether
/// to stop); their state is saved in every checkpoint so `--resume` continues them.

/// Keras's ReduceLROnPlateau on val_loss: multiply the learning rate by `factor` after
/// `patience` epochs without an improvement of more than 1e-4.
public struct ReduceLROnPlateau: Codable, Hashable, Sendable {
    public var patience: Int
    public var factor: Double
    /// The factor applied on top of the schedule so far.
    public private(set) var scale = 1.0
    public private(set) var best: Double?
    public private(set) var wait = 0

    public init(patience: Int, factor: Double) {
        self.patience = patience
        self.factor = factor
    }

    /// Feeds one epoch's validation loss; returns true when the rate was reduced.
    public mutating func update(valLoss: Double) -> Bool {
        guard patience > 0 else { return false }
        if best.map({ valLoss < $0 - 1e-4 }) ?? valLoss.isFinite {
            best = valLoss
            wait = 0
            return false
        }
        wait += 1
        guard wait >= patience else { return false }
        scale *= factor
        wait = 0
        return true
    }
}

/// The best value so far of a monitored quantity: ModelCheckpoint's `save_best_only` and
/// EarlyStopping's patience share it.
public struct MetricMonitor: Codable, Hashable, Sendable {
    public var monitor: TrainConfig.Monitor
    public var maximizes: Bool
    /// How much better a value must be to count as an improvement.
    public var minDelta: Double
    public private(set) var best: Double?
    /// Epochs since the last improvement.
    public private(set) var wait = 0

    public init(monitor: TrainConfig.Monitor, maximizes: Bool, minDelta: Double = 0) {
        self.monitor = monitor
        self.maximizes = maximizes
        self.minDelta = minDelta
    }

    /// Feeds one epoch; returns true when the monitored value improved on the best so far
    /// (the first finite value always does; NaN never does).
    public mutating func update(_ record: EpochRecord) -> Bool {
        let value = monitor.value(in: record)
        let improved: Bool
        if let best {
            improved = maximizes ? value > best + minDelta : value < best - minDelta
        } else {
            improved = !value.isNaN
        }
        if improved {
            best = value
            wait = 0
        } else {
            wait += 1
        }
        return improved
    }
}

/// The callbacks' state, as a checkpoint stores it.
public struct CallbackState: Codable, Hashable, Sendable {
    public var plateau: ReduceLROnPlateau
    public var best: MetricMonitor
    /// Epochs without improvement after which training stops (0 = never).
    public var earlyStoppingPatience: Int

    public init(_ config: TrainConfig) {
        plateau = ReduceLROnPlateau(patience: config.plateauPatience, factor: config.plateauFactor)
        best = MetricMonitor(monitor: config.monitor, maximizes: config.monitorMaximizes, minDelta: config.minDelta)
        earlyStoppingPatience = config.earlyStoppingPatience
    }

    /// Whether EarlyStopping ends the run after the epoch just fed to ``best``.
    public var shouldStop: Bool { earlyStoppingPatience > 0 && best.wait >= earlyStoppingPatience }
}
