import ArgumentParser
import Foundation
import SetiFiles
import SetiData
import SetiNet
import SetiTraining
import SwiftMPI

/// `seti-dist bench scaling`: the real training step on N ranks, timed part by part.
struct BenchScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Time the training step on the ranks of this job: compute, exposed communication, optimizer, data.",
        discussion: """
            Run under mpirun or launch/sim-cluster with a fixed per-rank batch (weak scaling, \
            --batch-per-rank) or a fixed global batch (strong scaling, --global-batch). Each \
            rank trains the SETI CNN on simulated data with the keras-seed recipe; after \
            warm-up steps, the timed steps are split into data (batch fill and augmentation), \
            compute (forward and backward), exposed communication (gradient exchange not \
            hidden behind backward, plus the loss statistics and lr broadcast) and optimizer. \
            Rank 0 prints one line and, with --append, adds it as JSON to a file; --report \
            FILE then prints the table of such a file with scaling efficiency against the \
            1-rank run of the same mode and batch, and (weak scaling) against the mean of the \
            --alone runs of the same ranks and nodes in the file (on a shared machine, repeat \
            them, alternating with the runs they are compared with). launch/bench-scaling \
            runs the whole matrix.

            --alone: every rank trains by itself, without exchanging gradients. Ranks that \
            share a machine slow each other down through its memory bandwidth and caches, \
            and the nodes of launch/sim-cluster all share this one: the --alone run of the \
            same layout is what they compute at best, so "vs alone" is the cost of the \
            exchange on this machine.

            --paired: the same comparison inside one job. Every rank also trains alone, \
            in turns of a few steps with the exchange's, each turn started together, so \
            that the drift of a shared machine's speed falls on both alike; a third turn \
            trains alone but waits for the other ranks after every step (what any \
            exchange costs: the slowest rank, each step). "vs alone" then comes from the \
            job itself, "vs synced" leaves the waiting out. Ranks that share memory meet \
            the same contention in every turn, which adds about the same time to both \
            sides and flatters the ratio; one process with and without --compression, \
            on one core of an idle machine, bounds what separate machines would see.
            """)

    @Option(help: "Weak scaling: samples per rank per step.") var batchPerRank: Int?
    @Option(help: "Strong scaling: samples per step, all ranks together (default 32).") var globalBatch: Int?
    @Option(help: "Timed steps.") var steps: Int = 6
    @Option(help: "Steps run before the timed ones, untimed (0...1000).") var untimedSteps: Int = 2
    @OptionGroup(title: "Gradient exchange") var exchange: ExchangeOptions
    @Flag(help: "Every rank trains alone, no exchange: the baseline of ranks sharing a machine (weak scaling).") var alone = false
    @Flag(help: "Weak scaling: also time the ranks alone in the same job, in turns with the exchange (see below).") var paired = false
    @Option(help: "Name of the setup, e.g. local, sim-2x2, sim-2x1-10gbit.") var label: String = "local"
    @Option(help: "Append the result as one JSON line to this file (rank 0).") var append: String?
    @Option(help: "Print the table of a file written with --append, and exit.") var report: String?

    func validate() throws {
        guard (1...100_000).contains(steps) else { throw ValidationError("--steps \(steps): allowed 1...100000") }
        if let b = batchPerRank, !(1...4096).contains(b) { throw ValidationError("--batch-per-rank \(b): allowed 1...4096") }
        if let g = globalBatch, !(1...65_536).contains(g) { throw ValidationError("--global-batch \(g): allowed 1...65536") }
        guard (0...1000).contains(untimedSteps) else { throw ValidationError("--untimed-steps \(untimedSteps): allowed 0...1000") }
        if let rank = exchange.powersgdRank, !(1...64).contains(rank) { throw ValidationError("--powersgd-rank \(rank): allowed 1...64") }
        if let step = exchange.powersgdStartStep, !(0...1_000_000_000).contains(step) { throw ValidationError("--powersgd-start-step \(step): allowed 0...1000000000") }
        _ = try exchange.method(over: TrainConfig.kerasSeed.exchange)
        if alone && batchPerRank == nil { throw ValidationError("--alone measures weak scaling: give --batch-per-rank") }
        if paired && (batchPerRank == nil || alone) { throw ValidationError("--paired measures weak scaling with an exchange: give --batch-per-rank, not --alone") }
    }

    func run() throws {
        if let report { return try printReport(report) }
        let command = self
        Job.run { job in
            let world = job.world
            // Alone, each rank is a job of its own.
            let trainers = command.alone ? try world.split(color: world.rank, key: 0) : world
            let config = command.config(ranks: trainers.size)
            let trainer = try Trainer(config: config, world: trainers, folder: RunFolder(FileManager.default.temporaryDirectory))
            _ = try trainer.measureSteps(command.untimedSteps)
            let (t, solo): (StepTiming, (free: StepTiming, synchronized: StepTiming)?) =
                command.paired ? try trainer.measurePaired(
                    steps: command.steps, alone: try Trainer(config: command.config(ranks: 1), world: try world.split(color: world.rank, key: 0),
                                                             folder: RunFolder(FileManager.default.temporaryDirectory)),
                    untimedSteps: command.untimedSteps, world: world) : (try trainer.measureSteps(command.steps), nil)
            let n = Double(command.steps)
            // Components: mean over ranks; the step: the slowest rank's, which is what all wait for.
            var parts = [t.data, t.compute, t.communication, t.optimizer].map { $0 / n }
            try world.allreduce(&parts, op: .sum)
            parts = parts.map { $0 / Double(world.size) }
            let step = try world.allreduce(t.total / n, op: .max)
            let aloneSteps = try solo.map { [try world.allreduce($0.free.total / n, op: .max), try world.allreduce($0.synchronized.total / n, op: .max)] }
            let nodes = try world.allreduce(job.node.rank == 0 ? Int32(1) : 0, op: .sum)
            guard world.isRoot else { return }
            let batchPerRank = config.globalBatch / trainers.size, globalBatch = batchPerRank * world.size
            let record = ScalingRecord(
                label: command.label, mode: command.batchPerRank != nil ? "weak" : "strong", ranks: world.size, nodes: Int(nodes),
                batch_per_rank: batchPerRank, global_batch: globalBatch, blas_threads: BLAS.threads,
                exchange: config.exchange.rawValue + (config.exchange.kind.isLowRank ? "-\(config.powerSGDRank)" : ""),
                overlap: config.overlap, alone: command.alone ? true : nil,
                step_ms: step * 1e3, data_ms: parts[0] * 1e3, compute_ms: parts[1] * 1e3, communication_ms: parts[2] * 1e3,
                optimizer_ms: parts[3] * 1e3, samples_per_s: Double(globalBatch) / step,
                alone_step_ms: aloneSteps.map { $0[0] * 1e3 }, synchronized_alone_step_ms: aloneSteps.map { $0[1] * 1e3 })
            try Output.line(record.line(efficiency: nil, vsAlone: record.pairedVsAlone))
            if let append = command.append { try JSONLines.append(record, to: URL(fileURLWithPath: append)) }
        }
    }

    /// The keras-seed recipe on simulated data for `ranks` ranks of this command's batch.
    private func config(ranks: Int) -> TrainConfig {
        var config = TrainConfig.kerasSeed
        config.globalBatch = batchPerRank.map { $0 * ranks } ?? globalBatch ?? 32
        config.simulatedPerClass = max(2, (config.globalBatch + 3) / 4)
        config.powerSGDStartStep = 0  // every timed step compresses, unless --powersgd-start-step says otherwise
        try? exchange.apply(to: &config)  // validate() checked the flags
        return config
    }

    /// Prints the table and its JSON, or nothing when a record is unusable.
    private func printReport(_ path: String) throws {
        let bytes = try readInputFile(URL(fileURLWithPath: path), maximumBytes: 64 << 20, what: "a bench scaling record file")
        let lines: [String]
        do { lines = try ScalingRecord.report(String(decoding: bytes, as: UTF8.self), file: path) } catch let error as ScalingReportError {
            throw CommandFailure(error.description)
        }
        for line in lines { try Output.line(line) }
        try Output.finish()
    }
}
