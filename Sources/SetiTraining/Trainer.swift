import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiRandom
import SwiftMPI

/// A failure every rank detects together (a NaN loss, an impossible batch split), so the
/// job ends cleanly with one message from rank 0.
public struct TrainingFailure: CollectiveError, CustomStringConvertible {
    public let description: String
}

/// Where a run's weights start.
public enum TrainingStart: Sendable {
    /// Fresh weights from the seed.
    case fresh
    /// Continue the run in the output folder exactly: weights, optimizer, callbacks, step.
    case resume
    /// A new run from another checkpoint's weights (fine-tuning, transfer learning); with
    /// `newHead`, the last layer is freshly initialized, so the class count may differ.
    case weights(from: URL, newHead: Bool)
}

/// Data-parallel training: every rank holds a replica of the network and trains on its
/// part of each global batch; a ``GradientReducer`` sums the gradients and applies the
/// update, so the replicas stay identical without broadcasting weights. Rank 0 owns the
/// learning rate (schedule and plateau reductions, broadcast each step), the epoch log and
/// checkpoints, and reports progress through ``onEvent``.
public final class Trainer {
    public let config: TrainConfig
    public let world: Communicator
    public let folder: RunFolder
    /// Rank 0's progress reports.
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// When rank 0 writes last.safetensors (weights, optimizer and exchange state, for
    /// --resume); best.safetensors (weights only) is written whenever the monitored
    /// quantity improves.
    public var saveLast = LastCheckpoint.every

    public let network: Network
    let optimizer: Optimizer
    private let reducer: GradientReducer
    public private(set) var train: SpectrogramSet
    public let validation: SpectrogramSet
    /// The injection generator's observation windows (nil for the other generators).
    private let backgrounds: Backgrounds?

    /// One rank's batch: NHWC images and class indices.
    private var images: [Float]
    private var labels: [Int32]
    /// Where training steps spent their time (see ``measureSteps(_:)``).
    private var timing = StepTiming()

    /// Epochs completed and optimizer steps taken (non-zero after resume).
    public private(set) var firstEpoch = 0
    private var step = 0
    /// The seed of dropout, sample order, augmentation and simulated training data:
    /// `config.seed`, or for a run started from another checkpoint's weights a seed derived
    /// from it and the source, so fine-tuning on the source's data and seed does not replay
    /// the source's masks, order and flips (Keras's load_weights then fit draws anew too).
    private var randomSeed: UInt64
    /// Optimizer steps of the whole run (what a cosine decay spans by default).
    private var runSteps = 0
    private var callbacks: CallbackState
    private var initialWeights: String?
    /// Rank 0's TensorBoard event files.
    private var tensorBoard: TensorBoardWriter?

    /// Collective: loads the data, builds the network in the reducer's buffers, and
    /// restores or loads weights as `start` says. Rank 0 must have opened `folder`.
    public init(config: TrainConfig, world: Communicator, folder: RunFolder, start: TrainingStart = .fresh) throws {
        self.config = config
        self.world = world
        self.folder = folder
        // The one validator, for configurations from library callers as from flags and files.
        try config.validate()
        guard config.globalBatch % world.size == 0 else {
            throw TrainingFailure(description: "the global batch \(config.globalBatch) does not split over \(world.size) ranks; use a multiple of \(world.size) or a per-rank batch")
        }
        let perRank = config.globalBatch / world.size
        if config.batchNormGroupSize > 0 && perRank % config.batchNormGroupSize != 0 {
            throw TrainingFailure(description: "the batch-norm group size \(config.batchNormGroupSize) does not divide the per-rank batch \(perRank)")
        }
        try world.agree(on: config.hash, what: "training configuration (flags, --config file, seti-dist version)")
        try Trainer.checkMemory(config, ranks: world.size)

        // Reading files can fail on one rank alone (a node without the shared folder):
        // every rank learns of it here, before the next collective.
        (train, validation, backgrounds) = try world.together {
            let backgrounds = try config.loadBackgrounds()
            let (train, validation) = try config.loadData(backgrounds: backgrounds)
            let spec = config.effectiveModel(classes: train.classNames.count)
            guard spec.height == train.height, spec.width == train.width, spec.channels == 1 else {
                throw TrainingFailure(description: "the model takes \(spec.height)x\(spec.width)x\(spec.channels) inputs but the data hold \(train.height)x\(train.width) images")
            }
            guard train.count > 0, validation.count > 0 else {
                throw TrainingFailure(description: "no samples to \(train.count == 0 ? "train" : "validate") on")
            }
            return (train, validation, backgrounds)
        }
        let spec = config.effectiveModel(classes: train.classNames.count)
        images = [Float](repeating: 0, count: perRank * train.pixels)
        labels = [Int32](repeating: 0, count: perRank)
        reducer = try config.makeReducer(world: world, model: spec)
        network = Network(spec: spec, maxBatch: perRank, seed: config.seed,
                          parameterStorage: reducer.parameters, gradientStorage: reducer.gradients)
        switch config.optimizer {
        case .adam: optimizer = Adam(parameterCount: network.parameters.count, weightDecay: Float(config.weightDecay))
        case .sgd: optimizer = SGD(parameterCount: network.parameters.count, weightDecay: Float(config.weightDecay))
        }
        callbacks = CallbackState(config)
        randomSeed = config.seed
        initialWeights = try world.together { try load(start) }
        // Rank 0's weights are the run's weights (they agree already when all ranks seeded
        // alike, but a broadcast makes it a fact, not an assumption).
        try world.broadcast(network.parameters, root: 0)
        try world.broadcast(network.state, root: 0)
        try reducer.parametersWritten()
        runSteps = config.epochs * plan(epoch: 0).steps
        if let zero = config.schedule.firstZeroStep(runSteps: runSteps), zero < runSteps {
            throw TrainingFailure(description: "the cosine decay reaches learning rate 0 at optimizer step \(zero), before the run's \(runSteps) steps end (\(config.epochs) epochs of \(runSteps / config.epochs)); leave --decay-steps out to decay over the whole run, raise it to \(runSteps - config.schedule.warmupSteps), or give --decay-rate > 0")
        }
    }

    /// Throws when one rank's batch would not fit in this machine's memory (every rank
    /// computes the same answer, so all fail together).
    public static func checkMemory(_ config: TrainConfig, ranks: Int) throws {
        let perRank = max(1, config.globalBatch / max(1, ranks))
        let needed = Network.activationBytes(of: config.model, maxBatch: perRank)
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        guard needed < memory / 10 * 8 else {
            throw TrainingFailure(description: "a batch of \(perRank) per rank needs \(needed / 1_000_000_000) GB of activations, more than this machine's \(memory / 1_000_000_000) GB allow; use a smaller batch per rank or more ranks")
        }
    }

    /// Loads the starting weights `start` names; returns where they came from.
    private func load(_ start: TrainingStart) throws -> String? {
        switch start {
        case .fresh:
            return nil
        case .resume:
            let meta = try Checkpoint.restore(folder.last, into: network, optimizer: optimizer, exchange: reducer.stateSlots) { meta in
                guard meta.config.resumeHash == config.resumeHash else {
                    let differences = config.resumeDifferences(from: meta.config).joined(separator: ", ")
                    throw TrainingFailure(description: "\(folder.last.path) was written by a run with another configuration (\(differences)); resume with the same flags (only the epoch count may change), or start a new run from its weights")
                }
            }
            reducer.stateRestored(step: meta.step)
            guard meta.epoch < config.epochs else {
                throw TrainingFailure(description: "\(folder.url.path): the run is complete (\(meta.epoch) of \(config.epochs) epochs); raise the epoch count to continue it")
            }
            firstEpoch = meta.epoch
            step = meta.step
            callbacks = meta.callbacks
            randomSeed = meta.randomSeed ?? config.seed
            return "\(folder.last.path) (epoch \(meta.epoch), step \(meta.step))"
        case .weights(let url, let newHead):
            let (file, meta) = try Checkpoint.read(url)
            let head = newHead ? network.tensors.suffix(2).map(\.name) : []
            try network.importWeights(file.tensors, source: url.path, except: Set(head))
            randomSeed = CounterRandom.bits(seed: config.seed, .fineTuning, index: meta.config.hash ^ UInt64(meta.step))
            return "\(url.path) (epoch \(meta.epoch)\(newHead ? ", new last layer" : ""))"
        }
    }

    /// Trains from the current epoch to `config.epochs` (or until early stopping);
    /// returns the log records of the epochs it trained.
    @discardableResult
    public func run() throws -> [EpochRecord] {
        var records: [EpochRecord] = []
        try world.onRoot {
            try folder.truncateLog(toEpochs: firstEpoch)
            try OutputFile.write(Data((config.json + "\n").utf8), to: folder.config)
            tensorBoard = try TensorBoardWriter(folder: folder.tensorBoard)
        }
        if world.isRoot {
            onEvent(.started(TrainingSummary(
                trainingSamples: train.count, validationSamples: validation.count, ranks: world.size,
                batchPerRank: config.globalBatch / world.size, globalBatch: config.globalBatch, blasThreads: BLAS.threads,
                firstEpoch: firstEpoch, epochs: config.epochs, initialWeights: initialWeights, model: network.spec)))
        }
        for epoch in firstEpoch..<config.epochs {
            let record = try trainEpoch(epoch)
            records.append(record)
            if callbacks.shouldStop {
                if world.isRoot { onEvent(.stoppedEarly(epoch: epoch + 1, patience: callbacks.earlyStoppingPatience)) }
                break
            }
        }
        return records
    }

    /// Fresh samples to fit the calibration on when the data are simulated: `rounds`
    /// further draws of the validation stream (round 0 is the validation set itself),
    /// which no training step sees; nil for a data folder.
    public func calibrationSet(rounds: Int = 4) -> SpectrogramSet? {
        guard config.data == nil, rounds > 0 else { return nil }
        let simulator = config.simulator(seed: config.seed, backgrounds: backgrounds)
        let perClass = validation.count / max(1, validation.classNames.count)
        var combined = validation
        combined.images = []
        combined.labels = []
        for round in 1...rounds {
            var set = validation
            simulator.redraw(&set, indices: Array(0..<set.count), perClass: perClass, split: .validation, round: round)
            combined.images += set.images
            combined.labels += set.labels
        }
        return combined
    }

    private func trainEpoch(_ epoch: Int) throws -> EpochRecord {
        let plan = plan(epoch: epoch)
        let start = Date()
        if config.data == nil && config.freshSimulationEachEpoch && (epoch > 0 || randomSeed != config.seed) {
            // Only this rank's shard: the others' samples are never read here this epoch.
            // (A fine-tuning run's first epoch too: round 0 of the seed is what its source saw.)
            config.simulator(seed: randomSeed, backgrounds: backgrounds).redraw(
                &train, indices: Array(Set(plan.shard)).sorted(), perClass: config.simulatedPerClass, split: .train, round: epoch)
        }
        var totals = (loss: 0.0, correct: 0.0, samples: 0.0)
        var lr = 0.0
        for s in 0..<plan.steps {
            let stats = try trainStep(plan, s, epoch: epoch)
            lr = stats.lr
            totals = (totals.loss + stats.lossSum, totals.correct + stats.correct, totals.samples + stats.samples)
            if world.isRoot {
                onEvent(.step(epoch: epoch + 1, epochs: config.epochs, step: s + 1, steps: plan.steps, loss: totals.loss / totals.samples,
                              accuracy: totals.correct / totals.samples, samples: Int(totals.samples), elapsed: Date().timeIntervalSince(start)))
            }
        }
        try checkFinite(network.parameters, what: "weights", epoch: epoch)
        if world.isRoot { onEvent(.phase(.validating, epoch: epoch + 1, epochs: config.epochs)) }
        if config.batchNormEstimationBatches > 0 {
            estimateBatchNormStatistics(plan: plan)
        }
        // Batch-norm moving statistics drift apart across ranks (per-rank batch
        // statistics); average them so validation and checkpoints do not depend on
        // the rank count.
        try world.allreduce(network.state, op: .sum)
        for i in network.state.indices { network.state[i] /= Float(world.size) }
        try checkFinite(network.state, what: "batch-norm statistics", epoch: epoch)

        let seconds = Date().timeIntervalSince(start)
        let val = try Evaluator.evaluate(network, on: validation, world: world)
        let record = EpochRecord(
            epoch: epoch + 1, step: step, loss: totals.loss / totals.samples, accuracy: totals.correct / totals.samples,
            val_loss: val.loss, val_accuracy: val.accuracy, lr: lr, seconds: seconds, samples_per_second: totals.samples / seconds,
            validation_seconds: Date().timeIntervalSince(start) - seconds)
        try reducer.completeState(of: optimizer)
        try endOfEpoch(record)
        return record
    }

    /// Ends the job on every rank with one message when `values` hold NaN or infinity
    /// (the weights identical on all ranks, so all see it together).
    private func checkFinite(_ values: UnsafeMutableBufferPointer<Float>, what: String, epoch: Int) throws {
        var finite = Int64(values.allSatisfy { $0.isFinite } ? 1 : 0)
        finite = try world.allreduce(finite, op: .min)
        guard finite == 0 else { return }
        throw TrainingFailure(description: "the \(what) became NaN or infinite during epoch \(epoch + 1) (optimizer step \(step)); \(lastGood) Lower the learning rate (now \(config.schedule.initial)) or check the data")
    }

    /// Names the checkpoint a diverged run can fall back on, if one exists.
    private var lastGood: String {
        FileManager.default.fileExists(atPath: folder.last.path)
            ? "the last good checkpoint is \(folder.last.path)." : "no checkpoint was written."
    }

    /// Replaces the moving statistics with the mean batch statistics of the first batches
    /// of `plan` (unaugmented, as validation sees data), computed with the current weights.
    private func estimateBatchNormStatistics(plan: EpochPlan) {
        for s in 0..<min(config.batchNormEstimationBatches, plan.steps) {
            let (indices, first) = plan.batch(s)
            fillBatch(indices, first: first, augmentation: .none, epoch: 0)
            network.forward(images, batch: indices.count, options: .estimation(pass: s, batchNormGroups: batchNormGroups(indices.count)))
        }
    }

    /// One optimizer step on batch `s` of `plan`: forward, backward handing gradients to
    /// the reducer, the loss statistics summed over ranks, rank 0's learning rate, the update.
    private func trainStep(_ plan: EpochPlan, _ s: Int, epoch: Int) throws -> (lossSum: Double, correct: Double, samples: Double, lr: Double) {
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e9
        }
        let (indices, first) = plan.batch(s)
        let b = indices.count
        fillBatch(indices, first: first, augmentation: config.augmentation, epoch: epoch)
        timing.data += lap()

        network.forward(images, batch: b, options: ForwardOptions(
            training: true, dropoutSeed: randomSeed, step: step, firstSample: first, batchNormGroups: batchNormGroups(b)))
        let (lossSum, correct) = labels.withUnsafeBufferPointer {
            network.loss(labels: $0.baseAddress!, batch: b, gradientScale: 1 / Float(b * world.size), labelSmoothing: Float(config.labelSmoothing))
        }
        var exchangeError: Error?
        var exchanging = 0.0
        network.backward(batch: b, folds: reducer.kernelGradientFolds()) { range in
            let start = DispatchTime.now().uptimeNanoseconds
            if exchangeError == nil { do { try self.reducer.gradientsReady(range) } catch { exchangeError = error } }
            exchanging += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if let exchangeError { throw exchangeError }
        timing.compute += lap() - exchanging

        var stats = [lossSum, Double(correct), Double(b)]
        try world.allreduce(&stats, op: .sum)
        guard stats[0].isFinite else {
            throw TrainingFailure(description: "the loss became \(stats[0]) at epoch \(epoch + 1), step \(s + 1) (optimizer step \(step)); \(lastGood) Lower the learning rate (now \(config.schedule.initial)) or check the data")
        }
        let lr = try world.broadcast(config.learningRate(step: step, runSteps: runSteps) * callbacks.plateau.scale, root: 0)
        var updating = 0.0
        try reducer.applyUpdate { source in
            let start = DispatchTime.now().uptimeNanoseconds
            optimizer.step(
                parameters: network.parameters, gradients: UnsafeBufferPointer(network.gradients), lr: Float(lr),
                ranges: source.ranges, prepare: source.prepare)
            updating = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        step += 1
        timing.communication += lap() + exchanging - updating
        timing.optimizer += updating
        timing.steps += 1
        return (stats[0], stats[1], stats[2], lr)
    }

    private func fillBatch(_ indices: ArraySlice<Int>, first: Int, augmentation: Augmentation, epoch: Int) {
        images.withUnsafeMutableBufferPointer { im in
            labels.withUnsafeMutableBufferPointer { lb in
                train.fillBatch(indices, firstPosition: first, augmentation: augmentation, seed: randomSeed, epoch: epoch,
                                images: im.baseAddress!, labels: lb.baseAddress!)
            }
        }
    }

    /// Runs `steps` training steps (epoch 0's batches, wrapping around) and returns where
    /// this rank's time went: what `seti-dist bench scaling` reports.
    public func measureSteps(_ steps: Int) throws -> StepTiming {
        let plan = plan(epoch: 0)
        timing = StepTiming()
        for s in 0..<steps { _ = try trainStep(plan, s % plan.steps, epoch: 0) }
        return timing
    }

    /// This rank's batches of `epoch`.
    private func plan(epoch: Int) -> EpochPlan {
        EpochPlan(sampleCount: train.count, ranks: world.size, rank: world.rank, batchPerRank: config.globalBatch / world.size,
                  seed: randomSeed, epoch: epoch)
    }

    /// Ghost-batch groups for a per-rank batch of `size` samples.
    private func batchNormGroups(_ size: Int) -> Int {
        config.batchNormGroupSize > 0 ? max(1, size / config.batchNormGroupSize) : 1
    }

    /// After each epoch: the callbacks (decided on rank 0, broadcast), then rank 0's log
    /// and checkpoints.
    private func endOfEpoch(_ record: EpochRecord) throws {
        let reduced = callbacks.plateau.update(valLoss: record.val_loss)
        let improved = callbacks.best.update(record)
        let final = record.epoch == config.epochs || callbacks.shouldStop
        try world.onRoot {
            onEvent(.phase(.saving, epoch: record.epoch, epochs: config.epochs))
            let start = Date()
            let meta = CheckpointMetadata(
                model: network.spec, classNames: train.classNames, config: config, epoch: record.epoch, step: step,
                metrics: record, callbacks: callbacks, randomSeed: randomSeed == config.seed ? nil : randomSeed)
            if improved { try Checkpoint.save(network: network, optimizer: nil, metadata: meta, to: folder.best) }
            if saveLast == .every || (saveLast == .end && final) {
                try Checkpoint.save(network: network, optimizer: optimizer, exchange: reducer.stateSlots, metadata: meta, to: folder.last)
            }
            var logged = record
            logged.checkpoint_seconds = Date().timeIntervalSince(start)
            try JSONLines.append(logged, to: folder.metrics)
            try tensorBoard?.add(logged)
            onEvent(.epochEnded(logged, of: config.epochs))
            if reduced { onEvent(.learningRateReduced(factor: callbacks.plateau.factor, scale: callbacks.plateau.scale)) }
            if improved { onEvent(.bestSaved(folder.best, monitor: config.monitor, value: callbacks.best.best ?? .nan)) }
        }
    }
}

/// Where a rank's training-step time went, summed over `steps` steps (seconds).
public struct StepTiming: Sendable {
    /// Filling the batch (copy and augmentation).
    public var data = 0.0
    /// Forward, loss and backward, without the time backward spent handing gradients over.
    public var compute = 0.0
    /// Exposed communication: gradient exchange not hidden behind backward (the hand-over
    /// calls during backward plus the wait after it), the loss statistics, the lr broadcast.
    public var communication = 0.0
    /// The optimizer update.
    public var optimizer = 0.0
    public var steps = 0

    public var total: Double { data + compute + communication + optimizer }

    public init() {}

    public static func += (a: inout StepTiming, b: StepTiming) {
        a.data += b.data
        a.compute += b.compute
        a.communication += b.communication
        a.optimizer += b.optimizer
        a.steps += b.steps
    }
}
