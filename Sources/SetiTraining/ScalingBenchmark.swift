import Foundation
import SetiFiles
import SwiftMPI

// `bench scaling`: the paired measurement and the records and report of its runs.

extension Trainer {
    /// `bench scaling --paired`: `steps` steps of this trainer (the exchange), and as many
    /// of `solo` (this rank alone, on a communicator of its own), free and synchronized
    /// with the other ranks after every step, in turns of a few steps; every turn starts
    /// together, so that the drift of a shared machine's speed falls on all three alike.
    public func measurePaired(steps: Int, alone solo: Trainer, untimedSteps: Int, world: Communicator) throws
        -> (StepTiming, (free: StepTiming, synchronized: StepTiming)) {
        _ = try solo.measureSteps(untimedSteps)
        var exchanged = StepTiming(), free = StepTiming(), synchronized = StepTiming()
        for first in stride(from: 0, to: steps, by: 5) {
            let turn = min(5, steps - first)
            try world.barrier()
            exchanged += try measureSteps(turn)
            try world.barrier()
            free += try solo.measureSteps(turn)
            try world.barrier()
            for _ in 0..<turn {
                var step = try solo.measureSteps(1)
                let start = DispatchTime.now().uptimeNanoseconds
                try world.barrier()
                step.communication += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                synchronized += step
            }
        }
        return (exchanged, (free, synchronized))
    }
}

/// A record file `bench scaling --report` cannot use, named by file and line.
public struct ScalingReportError: OneLineError {
    public let description: String
}

/// One `bench scaling` measurement, as written to the --append file.
public struct ScalingRecord: Codable, Sendable {
    public var label: String, mode: String
    public var ranks: Int, nodes: Int, batch_per_rank: Int, global_batch: Int, blas_threads: Int
    /// The method, with PowerSGD's rank ("powersgd-2"); nil in files before 0.18, which
    /// named it by `allreduce` and `compression` (nil: exact).
    public var exchange: String?
    public var allreduce: String?
    public var compression: String?
    public var overlap: Bool
    /// true: ranks trained alone, without exchange (nil otherwise and in older files).
    public var alone: Bool?
    public var step_ms: Double, data_ms: Double, compute_ms: Double, communication_ms: Double, optimizer_ms: Double
    public var samples_per_s: Double
    /// --paired: the step of the same ranks alone, and alone waiting for each other after
    /// every step, timed in turns with this one (nil otherwise).
    public var alone_step_ms: Double?
    public var synchronized_alone_step_ms: Double?

    public init(label: String, mode: String, ranks: Int, nodes: Int, batch_per_rank: Int, global_batch: Int, blas_threads: Int,
                exchange: String?, overlap: Bool, alone: Bool?, step_ms: Double, data_ms: Double, compute_ms: Double,
                communication_ms: Double, optimizer_ms: Double, samples_per_s: Double, alone_step_ms: Double?,
                synchronized_alone_step_ms: Double?) {
        (self.label, self.mode, self.ranks, self.nodes, self.batch_per_rank, self.global_batch) = (label, mode, ranks, nodes, batch_per_rank, global_batch)
        (self.blas_threads, self.exchange, self.overlap, self.alone) = (blas_threads, exchange, overlap, alone)
        (self.step_ms, self.data_ms, self.compute_ms, self.communication_ms, self.optimizer_ms) = (step_ms, data_ms, compute_ms, communication_ms, optimizer_ms)
        (self.samples_per_s, self.alone_step_ms, self.synchronized_alone_step_ms) = (samples_per_s, alone_step_ms, synchronized_alone_step_ms)
    }

    /// --paired: throughput against the same ranks alone in the same job.
    public var pairedVsAlone: Double? { alone_step_ms.map { $0 / step_ms } }

    /// What makes a record read from a file unusable (the report divides by its counts and
    /// times), or nil.
    public var problem: String? {
        for (name, value) in [("ranks", ranks), ("nodes", nodes), ("batch_per_rank", batch_per_rank), ("global_batch", global_batch)]
        where value < 1 { return "\(name) \(value): allowed 1 or more" }
        let positive = [("step_ms", step_ms), ("samples_per_s", samples_per_s)]
            + [("alone_step_ms", alone_step_ms), ("synchronized_alone_step_ms", synchronized_alone_step_ms)].compactMap { n, v in v.map { (n, $0) } }
        for (name, value) in positive where !(value.isFinite && value > 0) { return "\(name) \(value): allowed a positive number" }
        for (name, value) in [("data_ms", data_ms), ("compute_ms", compute_ms), ("communication_ms", communication_ms), ("optimizer_ms", optimizer_ms)]
        where !(value.isFinite && value >= 0) { return "\(name) \(value): allowed 0 or more" }
        return nil
    }

    public static let header = "setup               mode    ranks nodes threads batch/rank global  step ms  compute  exposed comm  optimizer  data   samples/s  efficiency  vs alone"

    public func line(efficiency: Double?, vsAlone: Double?) -> String {
        let method = exchange.map { $0 == "hierarchical" ? "" : " " + $0 } ?? "\(allreduce == "mpi" ? " mpi" : "")\(compression.map { " " + $0 } ?? "")"
        let exchange = alone == true ? " alone" : (overlap ? "" : " no-overlap") + method
        let setup = (label + exchange).padding(toLength: max(19, (label + exchange).count), withPad: " ", startingAt: 0)
        return setup + " " + mode.padding(toLength: max(7, mode.count), withPad: " ", startingAt: 0) + String(
            format: " %5d %5d %7d %10d %6d %8.1f %8.1f %8.1f (%2.0f%%) %9.1f %5.1f %10.1f",
            ranks, nodes, blas_threads, batch_per_rank, global_batch, step_ms, compute_ms, communication_ms,
            100 * communication_ms / step_ms, optimizer_ms, data_ms, samples_per_s)
            + (efficiency.map { String(format: "  %9.1f%%", 100 * $0) } ?? (vsAlone == nil ? "" : String(repeating: " ", count: 12)))
            + (vsAlone.map { String(format: "  %7.1f%%", 100 * $0) } ?? "")
            + (synchronized_alone_step_ms.map { String(format: "  vs synced %.1f%% (alone %.1f ms, synced %.1f ms)", 100 * $0 / step_ms, alone_step_ms ?? 0, $0) } ?? "")
    }

    /// The table of a file of records (one JSON line each) and, last, its JSON: each record
    /// with its scaling efficiency against the one-rank run of the same mode and batch and,
    /// for weak scaling, its throughput against the same layout's ranks alone. Every figure
    /// is computed and checked finite before any line is returned, so an unusable record
    /// (named by `file` and line) leaves no half-report.
    public static func report(_ text: String, file: String) throws -> [String] {
        var records: [(line: Int, record: ScalingRecord)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let record: ScalingRecord
            do { record = try JSONDecoder().decode(ScalingRecord.self, from: Data(line.utf8)) } catch {
                throw ScalingReportError(description: "\(file):\(number + 1): not a bench scaling record")
            }
            if let problem = record.problem { throw ScalingReportError(description: "\(file):\(number + 1): \(problem)") }
            records.append((number + 1, record))
        }
        var lines = [header]
        var rows: [[String: Any]] = []
        for (number, r) in records {
            // Efficiency against the one-rank run of the same mode and batch.
            let base = records.map(\.record).first {
                $0.ranks == 1 && $0.mode == r.mode && (r.mode == "weak" ? $0.batch_per_rank == r.batch_per_rank : $0.global_batch == r.global_batch)
            }
            let efficiency = base.map { r.samples_per_s / (Double(r.ranks) * $0.samples_per_s) }
            // Weak scaling with exchange against the same layout's ranks alone: the mean of
            // every such run, as one alone run on a noisy machine may be its luckiest.
            let alone = r.alone == true || r.mode != "weak" ? [] : records.map(\.record).filter {
                $0.alone == true && $0.ranks == r.ranks && $0.nodes == r.nodes && $0.batch_per_rank == r.batch_per_rank
            }
            let vsAlone = r.pairedVsAlone ?? (alone.isEmpty ? nil : r.samples_per_s / (alone.map(\.samples_per_s).reduce(0, +) / Double(alone.count)))
            let figures: [(String, Double?)] = [("efficiency", efficiency), ("throughput vs alone", vsAlone),
                                                ("exposed communication share", r.communication_ms / r.step_ms),
                                                ("step vs synchronized alone", r.synchronized_alone_step_ms.map { $0 / r.step_ms })]
            for case let (name, value?) in figures where !value.isFinite {
                throw ScalingReportError(description: "\(file):\(number): its \(name) comes out as \(value); the record's times and rates are too extreme to compare")
            }
            lines.append(r.line(efficiency: efficiency, vsAlone: vsAlone))
            var row = (try JSONSerialization.jsonObject(with: JSONLines.encode(r))) as! [String: Any]
            row["efficiency"] = efficiency
            row["efficiency_vs_alone"] = vsAlone
            rows.append(row)
        }
        lines.append(String(decoding: try JSONSerialization.data(withJSONObject: ["scaling": rows], options: [.sortedKeys]), as: UTF8.self))
        return lines
    }
}
