import Foundation
import SetiNet

/// What a training run reports as it goes, on rank 0 only. The library never prints: the
/// command-line tool turns these into the progress line and the Keras-style epoch lines.
public enum TrainingEvent {
    /// Before the first step: the data and the layout of the job.
    case started(TrainingSummary)
    /// After each optimizer step of `epoch` (1-based): the running mean loss and accuracy
    /// of the epoch.
    case step(epoch: Int, epochs: Int, step: Int, steps: Int, loss: Double, accuracy: Double, samples: Int, elapsed: Double)
    /// What the run does between an epoch's last step and its log line, which takes
    /// seconds the step line would otherwise sit still through.
    case phase(TrainingPhase, epoch: Int, epochs: Int)
    /// After validation, checkpoints and the log.
    case epochEnded(EpochRecord, of: Int)
    /// The learning rate was multiplied by `factor` for plateauing validation loss.
    case learningRateReduced(factor: Double, scale: Double)
    /// A new best checkpoint was written.
    case bestSaved(URL, monitor: TrainConfig.Monitor, value: Double)
    /// EarlyStopping ended the run after `epoch`; the best was `best` at `bestEpoch`.
    case stoppedEarly(epoch: Int, patience: Int)
}

/// The work after an epoch's steps.
public enum TrainingPhase: String, Sendable {
    /// Re-estimating batch-norm statistics and evaluating the validation set.
    case validating
    /// Writing checkpoints, the log and TensorBoard.
    case saving
}

/// The facts a run starts with.
public struct TrainingSummary: Sendable {
    public var trainingSamples: Int
    public var validationSamples: Int
    public var ranks: Int
    public var batchPerRank: Int
    public var globalBatch: Int
    public var blasThreads: Int
    /// Epochs already done (non-zero when resumed).
    public var firstEpoch: Int
    public var epochs: Int
    /// Where the starting weights came from, if not a fresh initialization.
    public var initialWeights: String?
    /// The model being trained.
    public var model: ModelSpec
}
