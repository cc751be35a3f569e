import Foundation
import SetiData
import SetiNet
import SwiftMPI

/// A failure every rank detects together (a NaN loss, an impossible batch split), so the
/// job ends cleanly with one message from rank 0.
public struct TrainingFailure: CollectiveError, CustomStringConvertible {
    public let description: String
}

/// Data-parallel training: every rank holds a replica of the network and trains on its
/// part of each global batch; gradients are summed by allreduce, so every rank applies
/// the same update and the replicas stay identical without broadcasting weights.
/// Rank 0 owns the learning rate (schedule and plateau reductions, broadcast each step),
/// validation reporting, the epoch log and checkpoints.
public final class Trainer {
    public let config: TrainConfig
    public let world: Communicator
    public let outputFolder: URL
    /// Where rank 0's messages go (the progress line, epoch lines).
    public var log: (String) -> Void = { print($0); fflush(stdout) }
    public var progress: ProgressLine

    public let network: Network
    let optimizer: Optimizer
    private let exchange: GradientExchange
    public private(set) var train: SpectrogramSet
    public let validation: SpectrogramSet

    /// One rank's batch: NHWC images and class indices.
    private var images: [Float]
    private var labels: [Int32]
    /// Where training steps spent their time (see ``measureSteps(_:)``).
    private var timing = StepTiming()

    /// Epoch to start from and optimizer steps taken (non-zero after resume).
    private var firstEpoch = 0
    private var step = 0
    private var best: Double?
    private var plateauFactor = 1.0
    private var plateauBest = Double.infinity
    private var plateauWait = 0

    public var bestURL: URL { outputFolder.appendingPathComponent("best.safetensors") }
    public var lastURL: URL { outputFolder.appendingPathComponent("last.safetensors") }
    public var logURL: URL { outputFolder.appendingPathComponent("metrics.jsonl") }

    public init(config: TrainConfig, world: Communicator, outputFolder: URL, resume: Bool) throws {
        self.config = config
        self.world = world
        self.outputFolder = outputFolder
        progress = ProgressLine(enabled: world.isRoot)
        guard config.globalBatch % world.size == 0 else {
            throw TrainingFailure(description: "--global-batch \(config.globalBatch) does not split over \(world.size) ranks; use a multiple of \(world.size) or --batch-per-rank")
        }
        let perRank = config.globalBatch / world.size
        if config.batchNormGroupSize > 0 && perRank % config.batchNormGroupSize != 0 {
            throw TrainingFailure(description: "--batch-norm-group-size \(config.batchNormGroupSize) does not divide the per-rank batch \(perRank)")
        }
        try world.agree(on: config.hash, what: "training configuration (flags, --config file, seti-dist version)")

        (train, validation) = try Trainer.loadData(config)
        images = [Float](repeating: 0, count: perRank * train.pixels)
        labels = [Int32](repeating: 0, count: perRank)
        let spec = config.effectiveModel
        guard spec.classes == train.classNames.count else {
            throw TrainingFailure(description: "the model has \(spec.classes) outputs but the data have \(train.classNames.count) classes")
        }
        exchange = try GradientExchange(
            world: world, count: Network.parameterCount(of: spec), method: config.allreduce, overlap: config.overlap)
        network = Network(spec: spec, maxBatch: perRank, seed: config.seed,
                          parameterStorage: exchange.parameters, gradientStorage: exchange.gradients)
        switch config.optimizer {
        case .adam: optimizer = Adam(parameterCount: network.parameters.count)
        case .sgd: optimizer = SGD(parameterCount: network.parameters.count)
        }
        if resume {
            let meta = try Checkpoint.load(lastURL, into: network, optimizer: optimizer)
            firstEpoch = Int(meta["epoch"] ?? "0") ?? 0
            step = Int(meta["step"] ?? "0") ?? 0
            best = meta["best"].flatMap(Double.init)
            plateauFactor = meta["plateau_factor"].flatMap(Double.init) ?? 1
            plateauBest = meta["plateau_best"].flatMap(Double.init) ?? .infinity
            plateauWait = meta["plateau_wait"].flatMap(Int.init) ?? 0
            guard meta["config_hash"] == String(config.resumeHash) else {
                throw TrainingFailure(description: "\(lastURL.path) was written by a run with another configuration; resume with the same flags")
            }
        }
        // Rank 0's weights are the run's weights (they agree already when all ranks seeded
        // alike, but a broadcast makes it a fact, not an assumption).
        try world.broadcast(network.parameters, root: 0)
        try world.broadcast(network.state, root: 0)
        // The ranks of a node may share one parameter buffer, which each of them has just
        // written (the same values): all must be done before any updates it.
        try exchange.afterUpdate()
    }

    /// The run's training and validation sets: the folder's, or the simulated ones.
    public static func loadData(_ config: TrainConfig) throws -> (train: SpectrogramSet, validation: SpectrogramSet) {
        if let folder = config.data {
            let url = URL(fileURLWithPath: folder)
            return (try DataFolder.load(.train, from: url), try DataFolder.load(.validation, from: url))
        }
        let simulator = Simulator(seed: config.seed)
        return (simulator.generate(perClass: config.simulatedPerClass, split: .train),
                simulator.generate(perClass: max(1, config.simulatedPerClass / 4), split: .validation))
    }

    /// Trains from the current epoch to `config.epochs`; returns the log records.
    @discardableResult
    public func run() throws -> [EpochRecord] {
        var records: [EpochRecord] = []
        if world.isRoot {
            try FileManager.default.createDirectory(at: outputFolder, withIntermediateDirectories: true)
            try Data(config.json.utf8).write(to: outputFolder.appendingPathComponent("config.json"), options: .atomic)
            log("seti-dist train: \(train.count) training and \(validation.count) validation spectrograms, \(world.size) rank(s) x batch \(config.globalBatch / world.size) = global batch \(config.globalBatch), \(BLAS.threads) BLAS thread(s) per rank")
        }
        for epoch in firstEpoch..<config.epochs {
            let plan = plan(epoch: epoch)
            let start = Date()
            if config.data == nil && config.freshSimulationEachEpoch && epoch > 0 {
                // Only this rank's shard: the others' samples are never read here this epoch.
                Simulator(seed: config.seed).redraw(
                    &train, indices: Array(Set(plan.shard)).sorted(), perClass: config.simulatedPerClass, split: .train, round: epoch)
            }
            var totals = [0.0, 0.0, 0.0]  // loss sum, correct, samples (all ranks)
            var lr = 0.0
            progress.start(epoch: epoch + 1, of: config.epochs, steps: plan.steps)
            for s in 0..<plan.steps {
                let stats = try trainStep(plan, s, epoch: epoch)
                lr = stats.lr
                totals[0] += stats.lossSum; totals[1] += stats.correct; totals[2] += stats.samples
                progress.update(step: s + 1, loss: totals[0] / totals[2], samples: Int(totals[2]), elapsed: Date().timeIntervalSince(start))
            }
            if config.batchNormEstimationBatches > 0 {
                estimateBatchNormStatistics(plan: plan)
            }
            // Batch-norm moving statistics drift apart across ranks (per-rank batch
            // statistics); average them so validation and checkpoints do not depend on
            // the rank count.
            try world.allreduce(network.state, op: .sum)
            for i in network.state.indices { network.state[i] /= Float(world.size) }

            let seconds = Date().timeIntervalSince(start)
            let val = try evaluateDistributed(validation)
            let record = EpochRecord(
                epoch: epoch + 1, step: step, loss: totals[0] / totals[2], accuracy: totals[1] / totals[2],
                val_loss: val.loss, val_accuracy: val.accuracy, lr: lr, seconds: seconds, samples_per_second: totals[2] / seconds)
            progress.finish()
            try exchange.completeState(of: optimizer)
            try endOfEpoch(record, evaluation: val)
            records.append(record)
        }
        return records
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

    /// One optimizer step on batch `s` of `plan`: forward, backward with the gradient
    /// exchange, the loss statistics summed over ranks, rank 0's learning rate, the update.
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
            training: true, dropoutSeed: config.seed, step: step, firstSample: first, batchNormGroups: batchNormGroups(b)))
        let (lossSum, correct) = labels.withUnsafeBufferPointer {
            network.loss(labels: $0.baseAddress!, batch: b, gradientScale: 1 / Float(b * world.size))
        }
        var exchangeError: Error?
        var exchanging = 0.0
        network.backward(batch: b) { range in
            let start = DispatchTime.now().uptimeNanoseconds
            if exchangeError == nil { do { try self.exchange.ready(range) } catch { exchangeError = error } }
            exchanging += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if let exchangeError { throw exchangeError }
        timing.compute += lap() - exchanging

        let mine = try exchange.finishForUpdate()
        var stats = [lossSum, Double(correct), Double(b)]
        try world.allreduce(&stats, op: .sum)
        guard stats[0].isFinite else {
            throw TrainingFailure(description: "the loss became \(stats[0]) at epoch \(epoch + 1), step \(s + 1) (optimizer step \(step)); lower the learning rate. The last good checkpoint is \(lastURL.path)")
        }
        let lr = try world.broadcast(config.learningRate(step: step) * plateauFactor, root: 0)
        timing.communication += lap() + exchanging

        optimizer.step(parameters: network.parameters, gradients: UnsafeBufferPointer(network.gradients), lr: Float(lr), ranges: mine)
        step += 1
        timing.optimizer += lap()
        try exchange.afterUpdate()
        timing.communication += lap()
        timing.steps += 1
        return (stats[0], stats[1], stats[2], lr)
    }

    private func fillBatch(_ indices: ArraySlice<Int>, first: Int, augmentation: Augmentation, epoch: Int) {
        images.withUnsafeMutableBufferPointer { im in
            labels.withUnsafeMutableBufferPointer { lb in
                train.fillBatch(indices, firstPosition: first, augmentation: augmentation, seed: config.seed, epoch: epoch,
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
                  seed: config.seed, epoch: epoch)
    }

    /// Ghost-batch groups for a per-rank batch of `size` samples.
    private func batchNormGroups(_ size: Int) -> Int {
        config.batchNormGroupSize > 0 ? max(1, size / config.batchNormGroupSize) : 1
    }

    /// Rank 0's duties after each epoch: the Keras-style line, the log, plateau, checkpoints.
    private func endOfEpoch(_ record: EpochRecord, evaluation: Evaluation) throws {
        if world.isRoot {
            log(String(format: "Epoch %d/%d - %.1fs - %.0f samples/s - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f - lr: %.3g",
                       record.epoch, config.epochs, record.seconds, record.samples_per_second, record.loss, record.accuracy,
                       record.val_loss, record.val_accuracy, record.lr))
            try JSONLines.append(record, to: logURL)
        }
        // ReduceLROnPlateau on val_loss, decided on rank 0 and broadcast.
        if config.plateauPatience > 0 {
            if record.val_loss < plateauBest - 1e-4 {
                plateauBest = record.val_loss; plateauWait = 0
            } else {
                plateauWait += 1
                if plateauWait >= config.plateauPatience { plateauFactor *= config.plateauFactor; plateauWait = 0 }
            }
            plateauFactor = try world.broadcast(plateauFactor, root: 0)
        }
        let monitored: Double
        switch config.monitor {
        case "val_accuracy": monitored = record.val_accuracy
        case "loss": monitored = record.loss
        case "accuracy": monitored = record.accuracy
        default: monitored = record.val_loss
        }
        let improved = best.map { config.monitorMaximizes ? monitored > $0 : monitored < $0 } ?? true
        if improved { best = monitored }
        guard world.isRoot else { return }
        var meta: [String: String] = [
            "epoch": "\(record.epoch)", "step": "\(record.step)", "seed": "\(config.seed)",
            "class_names": train.classNames.joined(separator: ","), "config": config.json, "config_hash": String(config.resumeHash),
            "model": String(decoding: try JSONEncoder().encode(config.effectiveModel), as: UTF8.self),
            "metrics": String(decoding: try JSONEncoder().encode(record), as: UTF8.self),
            "monitor": config.monitor, "best": "\(best ?? monitored)",
            "plateau_factor": "\(plateauFactor)", "plateau_best": "\(plateauBest)", "plateau_wait": "\(plateauWait)",
            "rng": "counter-based: every draw is a function of (seed, epoch, step, sample)",
        ]
        if improved {
            try Checkpoint.save(network: network, optimizer: nil, metadata: meta, to: bestURL)
            log("  \(config.monitor) improved to \(String(format: "%.4f", monitored)): saved \(bestURL.path)")
        }
        meta["best"] = "\(best!)"
        try Checkpoint.save(network: network, optimizer: optimizer, metadata: meta, to: lastURL)
    }

    /// Loss, accuracy and confusion over `set`, each rank evaluating a contiguous slice;
    /// inference is per sample, so the result equals a single-process evaluation.
    public func evaluateDistributed(_ set: SpectrogramSet) throws -> Evaluation {
        let slice = EpochPlan.evaluationSlice(count: set.count, ranks: world.size, rank: world.rank)
        var local = Trainer.evaluate(network, on: set, range: slice)
        let k = set.classNames.count
        var counts = [Int64(local.count)] + local.confusion.flatMap { $0.map(Int64.init) }
        try world.allreduce(&counts, op: .sum)
        local.lossSum = try world.allreduce(local.lossSum, op: .sum)
        local.count = Int(counts[0])
        local.confusion = (0..<k).map { r in (0..<k).map { Int(counts[1 + r * k + $0]) } }
        return local
    }

    /// Inference over `range` of `set` in batches of the network's capacity.
    public static func evaluate(_ network: Network, on set: SpectrogramSet, range: Range<Int>, predictions: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil) -> Evaluation {
        var result = Evaluation(classes: set.classNames.count)
        var start = range.lowerBound
        let k = network.classes
        while start < range.upperBound {
            let b = min(network.maxBatch, range.upperBound - start)
            let labels = Array(set.labels[start..<(start + b)])
            let logits = set.images.withUnsafeBufferPointer {
                network.forward($0.baseAddress! + start * set.pixels, batch: b, options: .inference)
            }
            let probs = network.probabilities(of: logits, batch: b)
            for j in 0..<b {
                let row = probs[(j * k)..<((j + 1) * k)]
                let predicted = row.firstIndex(of: row.max()!)! - row.startIndex
                result.confusion[Int(labels[j])][predicted] += 1
                result.lossSum -= Foundation.log(Double(max(row[row.startIndex + Int(labels[j])], 1e-30)))
                predictions?(start + j, UnsafeBufferPointer(rebasing: probs[(j * k)..<((j + 1) * k)]))
            }
            result.count += b
            start += b
        }
        return result
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
}

/// Rank 0's live progress: a self-rewriting line on a terminal, a plain line every tenth
/// of the epoch otherwise (logs stay readable).
public struct ProgressLine {
    let enabled: Bool
    /// Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's own output goes
    /// to a file, so only a process started without mpirun trusts isatty.
    let terminal = isatty(1) != 0 && ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] == nil
    var epoch = 0, epochs = 0, steps = 0, lastPrinted = 0

    init(enabled: Bool) { self.enabled = enabled }

    mutating func start(epoch: Int, of epochs: Int, steps: Int) {
        self.epoch = epoch; self.epochs = epochs; self.steps = steps; lastPrinted = 0
    }

    mutating func update(step: Int, loss: Double, samples: Int, elapsed: Double) {
        guard enabled else { return }
        let rate = Double(samples) / max(elapsed, 1e-9)
        let eta = elapsed / Double(step) * Double(steps - step)
        let text = String(format: "epoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s  ETA %@",
                          epoch, epochs, step, steps, loss, rate, Self.clock(eta))
        if terminal {
            print("\r" + text, terminator: "\u{1B}[K")
            fflush(stdout)
        } else if step == steps || step - lastPrinted >= max(1, steps / 10) {
            print(text)
            fflush(stdout)
            lastPrinted = step
        }
    }

    func finish() {
        if enabled && terminal { print("\r", terminator: "\u{1B}[K"); fflush(stdout) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
